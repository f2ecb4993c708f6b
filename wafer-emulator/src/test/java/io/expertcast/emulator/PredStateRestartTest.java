package io.expertcast.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.LayerPrediction;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.StreamsTestData;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import io.expertcast.streams.testing.PoisonRecords;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 item 5, the emulator's part: the prefetch commands it has filed and where each request
 * stands survive a restart. Commands for steps not yet emulated are filed; the emulator stops; a new
 * instance with an empty state directory (so everything comes back from the changelogs) emulates
 * those steps, and the Pred policy uses the commands filed before the restart.
 */
class PredStateRestartTest {
    private static final String MODEL = StreamsTestData.MODEL;
    private static final String APP = "pred-restart";

    @TempDir
    Path firstState;
    @TempDir
    Path secondState;

    private static PrefetchCommand nextToken(String request, int targetStep) {
        return new PrefetchCommand(MODEL, request, PrefetchScope.NEXT_TOKEN, targetStep, MemoryTier.HBM,
                List.of(new LayerPrediction(1, List.of(7), List.of(1.0))), 0L, 0L, 0, java.nio.ByteBuffer.allocate(0),
                java.nio.ByteBuffer.allocate(0));
    }

    private static List<ProducerRecord<byte[], byte[]>> pass(long pass, String request, int step) {
        SelectionEvent e = StreamsTestData.selection(request, step, 0, 1, pass, 0, 7);
        long now = System.currentTimeMillis();
        e.setEventTimeMs(now);
        var forward = StreamsTestData.pass(pass, List.of(new PassEntry(request, step, 1)));
        forward.setEventTimeMs(now);
        return List.of(
                new ProducerRecord<>(Topics.SELECTIONS.name(), request.getBytes(StandardCharsets.UTF_8),
                        Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(), e)),
                new ProducerRecord<>(Topics.PASSES.name(), MODEL.getBytes(StandardCharsets.UTF_8),
                        Topics.PASSES.valueSerde().serializer().serialize(Topics.PASSES.name(), forward)));
    }

    private static ProducerRecord<byte[], byte[]> command(PrefetchCommand c) {
        return new ProducerRecord<>(Topics.PREFETCH.name(), c.getRequestId().getBytes(StandardCharsets.UTF_8),
                Topics.PREFETCH.valueSerde().serializer().serialize(Topics.PREFETCH.name(), c));
    }

    /** The latest committed Pred totals. */
    private static WaferMetrics predTotals(KafkaConsumer<String, WaferMetrics> consumer, Map<String, WaferMetrics> latest) {
        consumer.poll(Duration.ofMillis(200)).forEach(r -> latest.put(r.key(), r.value()));
        return latest.get(MODEL + "/pred");
    }

    @Test
    void filedCommandsAreUsedAfterARestartFromTheChangelogs() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createPipelineTopics(1);
            String bootstrap = kafka.bootstrapServers();
            EmulatorSettings settings = new EmulatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"),
                    List.of("base", "pred"), APP);
            Map<String, WaferMetrics> latest = new HashMap<>();
            try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ConsumerConfig.GROUP_ID_CONFIG, "totals",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                    new StringDeserializer(), Topics.WAFER_METRICS.valueSerde().deserializer());
                 var changelog = new KafkaConsumer<>(Map.<String, Object>of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ConsumerConfig.GROUP_ID_CONFIG, "changelog",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                    new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                consumer.subscribe(List.of(Topics.WAFER_METRICS.name()));
                try (KafkaStreams first = EmulatorApp.start(bootstrap, firstState, settings, Map.of())) {
                    List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
                    records.add(command(nextToken("a", 2)));
                    records.add(command(nextToken("b", 3)));
                    records.addAll(pass(0, "a", 1));
                    PoisonRecords.send(bootstrap, records);
                    Poll.until(Duration.ofSeconds(90), () -> {
                        WaferMetrics pred = predTotals(consumer, latest);
                        return pred != null && pred.getPasses() == 1;
                    }, "pass 0 emulated");
                    // Both commands filed and committed: their records are on the commands store's changelog.
                    changelog.subscribe(List.of(APP + "-" + PrefetchBookStores.COMMANDS_STORE + "-changelog"));
                    List<byte[]> filed = new ArrayList<>();
                    Poll.until(Duration.ofSeconds(60), () -> {
                        changelog.poll(Duration.ofMillis(200)).forEach(r -> filed.add(r.value()));
                        return filed.size() >= 2;
                    }, "the two filed commands on the changelog");
                    assertEquals(0, predTotals(consumer, latest).getPrefetchUsed());
                }
                // A new instance, no local state: the books come back from the changelogs.
                try (KafkaStreams second = EmulatorApp.start(bootstrap, secondState, settings, Map.of())) {
                    List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>(pass(1, "a", 2));
                    records.addAll(pass(2, "b", 3));
                    PoisonRecords.send(bootstrap, records);
                    Poll.until(Duration.ofSeconds(90), () -> {
                        WaferMetrics pred = predTotals(consumer, latest);
                        return pred != null && pred.getPasses() == 3;
                    }, "passes 1 and 2 emulated after the restart");
                    WaferMetrics pred = latest.get(MODEL + "/pred");
                    assertEquals(2, pred.getPrefetchUsed(), "both commands filed before the restart were used");
                    assertEquals(0, pred.getPrefetchExpired() + pred.getPrefetchLate() + pred.getPrefetchUnknown());
                }
            }
        }
    }
}
