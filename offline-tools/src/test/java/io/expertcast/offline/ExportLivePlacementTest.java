package io.expertcast.offline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.testing.ConsoleCapture;
import io.expertcast.core.testing.ConsoleCapture.Run;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import io.expertcast.allocator.AllocatorTopology;

/** export-placement --bootstrap: SGLang's map from the table moe.placement holds (a placement learned online). */
class ExportLivePlacementTest {
    private static final ModelShape DEEPSEEK = ModelCatalog.DEEPSEEK_V3;

    @TempDir
    Path temp;

    private static Run run(String... args) {
        return ConsoleCapture.run(() -> new CommandLine(new ExportPlacementCommand()).execute(args));
    }

    private static void send(String bootstrap, String key, PlacementEntry row) {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
                Topics.PLACEMENT.keySerde().serializer(), Topics.PLACEMENT.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(Topics.PLACEMENT.name(), key, row));
            producer.flush();
        }
    }

    @Test
    void theLiveTableBecomesSglangsMapAndBadRowsAreClearErrors() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopic(Topics.PLACEMENT.name(), 2);
            String bootstrap = kafka.bootstrapServers();
            // MoE layer 0 (model layer 3): expert 5 (home die 0) gets a replica on die 3; expert 200 moves home to die 0.
            send(bootstrap, AllocatorTopology.placementKey(DEEPSEEK.id(), 0, 5),
                    new PlacementEntry(DEEPSEEK.id(), 0, 5, 0, List.of(3), 1L, 1L));
            send(bootstrap, AllocatorTopology.placementKey(DEEPSEEK.id(), 0, 200),
                    new PlacementEntry(DEEPSEEK.id(), 0, 200, 0, List.of(), 2L, 2L));
            send(bootstrap, AllocatorTopology.placementKey("qwen3-235b", 0, 1),
                    new PlacementEntry("qwen3-235b", 0, 1, 7, List.of(), 3L, 3L)); // another model: ignored
            Path out = temp.resolve("sglang.json");
            Run r = run("--bootstrap", bootstrap, "--model", "deepseek-v3", "--mesh", "dojo-5x5", "--out", out.toString());
            assertEquals(0, r.exit(), r.err());
            JsonNode map = new ObjectMapper().readTree(out.toFile()).get("physical_to_logical_map");
            assertEquals(61, map.size(), "one row per model layer");
            // Even table: 256 experts on 25 dies, 10 or 11 each; die 0 now holds 12 (0..10, 200) -> 12 slots per die.
            int perDie = map.get(0).size() / 25;
            assertEquals(12, perDie);
            assertTrue(r.out().contains("--ep-num-redundant-experts 44"), r.out());
            JsonNode layer = map.get(3);
            List<Integer> die0 = slots(layer, 0, perDie);
            List<Integer> die3 = slots(layer, 3, perDie);
            assertTrue(die0.contains(200) && die0.contains(5), die0.toString());
            assertTrue(die3.contains(5), die3.toString());
            int oldHomeOf200 = io.expertcast.core.placement.EvenPlacement.homeDie(200, 256, 25);
            assertFalse(slots(layer, oldHomeOf200, perDie).contains(200));
            assertEquals(0, map.get(0).get(0).asInt(), "dense layer 0: the trivial map");
            assertEquals(5, map.get(0).get(5).asInt());

            // A row the table cannot hold (die 99 on a 25-die wafer): a clear error naming the key.
            send(bootstrap, AllocatorTopology.placementKey(DEEPSEEK.id(), 1, 9),
                    new PlacementEntry(DEEPSEEK.id(), 1, 9, 99, List.of(), 4L, 4L));
            Run bad = run("--bootstrap", bootstrap, "--model", "deepseek-v3", "--out", out.toString());
            assertEquals(2, bad.exit());
            assertTrue(bad.err().contains("moe.placement row deepseek-v3/1/9") && bad.err().contains("home die 99 out of range 0..24"),
                    bad.err());
            Run unknown = run("--bootstrap", bootstrap, "--model", "gpt-5");
            assertEquals(2, unknown.exit());
            assertTrue(unknown.err().contains("unknown model 'gpt-5'"), unknown.err());
            Run both = run("--bootstrap", bootstrap, "--model", "deepseek-v3", "--load", "x.json", "--dies", "8");
            assertEquals(2, both.exit());
            assertTrue(both.err().contains("give either --load"), both.err());
        }
    }

    private static List<Integer> slots(JsonNode layer, int die, int perDie) {
        List<Integer> out = new java.util.ArrayList<>();
        for (int s = 0; s < perDie; s++) {
            out.add(layer.get(die * perDie + s).asInt());
        }
        return out;
    }
}
