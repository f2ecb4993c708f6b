package io.expertcast.replayer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.core.trace.JsonLinesTraces;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.source.JsonLinesSource;
import io.expertcast.core.trace.source.SyntheticSource;
import io.expertcast.core.trace.source.TraceSource;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A JSON-lines file and a synthetic run of another model replayed one after the other into a real broker. */
class MultiSourceReplayTest {
    @TempDir
    Path dir;

    @Test
    void everyStepOfEverySourceArrivesOnce() throws Exception {
        ModelCatalog catalog = ModelCatalog.standard();
        ModelShape llama = catalog.byId("llama4-maverick").orElseThrow();
        ModelShape qwen = catalog.byId("qwen3-235b").orElseThrow();
        Path jsonl = dir.resolve("llama.jsonl");
        try (BufferedWriter w = Files.newBufferedWriter(jsonl)) {
            Iterator<RequestTrace> it = new SyntheticTraceGenerator(llama, SyntheticCalibration.of(llama), 11).requests(3);
            while (it.hasNext()) {
                JsonLinesTraces.write(it.next(), w);
            }
        }
        List<TraceSource> sources = List.of(new JsonLinesSource(jsonl, catalog), new SyntheticSource(qwen, 2, 5));
        // Expected: each request's steps, from the same sources stepped by the same scheduler.
        Map<String, Integer> expectedSteps = new TreeMap<>();
        for (TraceSource s : sources) {
            s.requests(false, new ArrayList<>()).forEachRemaining(r -> expectedSteps.put(r.requestId(), r.numSteps()));
        }
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopic(Topics.SELECTIONS.name(), 2);
            kafka.createTopic(Topics.PASSES.name(), 1);
            ReplaySummary summary = TraceReplayer.replay(new ReplayOptions(kafka.bootstrapServers(), null, 2, 0, 0,
                    false, 256), sources, null);
            assertEquals(5, summary.requests());
            Map<String, Integer> steps = new TreeMap<>();
            Map<String, Integer> models = new HashMap<>();
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
            p.put(ConsumerConfig.GROUP_ID_CONFIG, "check");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            try (KafkaConsumer<String, SelectionEvent> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
                    Topics.SELECTIONS.valueSerde().deserializer())) {
                consumer.subscribe(List.of(Topics.SELECTIONS.name()));
                long deadline = System.currentTimeMillis() + 60_000;
                long events = 0;
                while (events < summary.events() && System.currentTimeMillis() < deadline) {
                    for (var rec : consumer.poll(Duration.ofMillis(500))) {
                        events++;
                        SelectionEvent e = rec.value();
                        if (e.getTokenOffset() == 0) {
                            steps.merge(e.getRequestId(), 1, Integer::sum);
                        }
                        models.merge(e.getModel(), 1, Integer::sum);
                    }
                }
                assertEquals(summary.events(), events);
            }
            assertEquals(expectedSteps, steps);
            assertEquals(2, models.size(), "both models' events arrived: " + models);
        }
    }
}
