package io.expertcast.predictor;

import io.expertcast.streams.testing.ChildJvm;
import io.expertcast.streams.testing.EmbeddedKafka;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.expertcast.core.trace.RequestTrace;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16 item 6, issue 19 item 5: the predictor runs as a JVM of its own against a real broker, a trace is
 * replayed at a steady pace, and the predictor is killed with SIGKILL (no commit, no close) three times
 * mid-stream, each time restarted on the same state directory. At the end the global heatmaps (the whole
 * tables and popularity last published on moe.heatmaps, what a restart restores from) and the accuracy
 * totals (moe.predictor-metrics) equal those of a run without a crash: every count exactly once.
 *
 * <p>The run without a crash is the same topology over the same events in a {@link TopologyTestDriver}:
 * with no decay the counts are sums, the same in whatever order the request-side tasks' lessons interleave.
 * Of the accuracy, what does not depend on when a publication was read is compared: samples, selected,
 * requests of every predictor, and hits and predictions of the prefill-only plan.
 */
@Tag("slow")
class PredictorCrashExactTest {
    private static final int KILLS = 3;

    @TempDir
    Path work;

    @Test
    void killedThreeTimesMidStreamTheHeatmapsAndAccuracyEqualARunWithoutACrash() throws Exception {
        List<SelectionEvent> events = trace();
        Outputs expected = withoutCrash(events);
        assertFalse(expected.heatmaps.isEmpty());
        try (EmbeddedKafka cluster = EmbeddedKafka.start()) {
            String bootstrap = cluster.bootstrapServers();
            cluster.createPipelineTopics(2);
            Process child = startPredictor(bootstrap, 0);
            try {
                CompletableFuture<Void> replay = CompletableFuture.runAsync(() -> produce(bootstrap, events));
                for (int kill = 1; kill <= KILLS; kill++) {
                    Thread.sleep(3500); // into the stream: the predictor has batches, counts and snapshots in flight
                    child.destroyForcibly(); // SIGKILL
                    child.waitFor();
                    child = startPredictor(bootstrap, kill);
                }
                replay.get();
                Outputs live = new Outputs();
                try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                        ConsumerConfig.GROUP_ID_CONFIG, "crash-exact-check"),
                        new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                    consumer.subscribe(List.of(Topics.HEATMAPS.name(), Topics.PREDICTOR_METRICS.name()));
                    long deadline = System.nanoTime() + Duration.ofSeconds(150).toNanos(); // a loaded machine: it ends as soon as equal
                    while (!live.equals(expected) && System.nanoTime() < deadline) {
                        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                            live.add(r);
                        }
                    }
                }
                // Every difference at once: the accuracy and the heatmaps are two separate claims.
                List<String> differences = new ArrayList<>();
                for (String key : union(expected.metrics.keySet(), live.metrics.keySet())) {
                    if (!java.util.Objects.equals(expected.metrics.get(key), live.metrics.get(key))) {
                        differences.add("accuracy " + key + ": without a crash " + expected.metrics.get(key)
                                + ", after " + KILLS + " kills " + live.metrics.get(key));
                    }
                }
                for (String key : union(expected.heatmaps.keySet(), live.heatmaps.keySet())) {
                    Map<String, Double> want = expected.heatmaps.get(key);
                    Map<String, Double> got = live.heatmaps.get(key);
                    if (!java.util.Objects.equals(want, got)) {
                        differences.add("heatmap " + key + ": mass without a crash " + mass(want) + ", after "
                                + KILLS + " kills " + mass(got));
                    }
                }
                assertEquals(List.of(), differences);
            } finally {
                child.destroyForcibly();
                child.waitFor();
                // What the restarts did (restore and replay), for the reader of the test's output.
                for (int run = 0; run <= KILLS; run++) {
                    Path log = work.resolve("predictor-" + run + ".log");
                    if (Files.exists(log)) {
                        for (String line : Files.readAllLines(log)) {
                            if (line.contains("replayed in") || line.contains("are gone")) {
                                System.out.println("run " + run + ": " + line);
                            }
                        }
                    }
                }
            }
        }
    }

    private static java.util.SortedSet<String> union(java.util.Set<String> a, java.util.Set<String> b) {
        java.util.SortedSet<String> all = new java.util.TreeSet<>(a);
        all.addAll(b);
        return all;
    }

    private static double mass(Map<String, Double> cells) {
        return cells == null ? 0 : cells.values().stream().mapToDouble(Double::doubleValue).sum();
    }

    /** 40 requests of 10 prefill tokens (3 chunks) and 45 decode steps each, in lockstep: 1,920 events. */
    private static List<SelectionEvent> trace() {
        List<RequestTrace> requests = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            requests.add(TraceEvents.randomRequest(CrashablePredictor.TOY, "crash-" + i, 10, 45, 1000 + i));
        }
        return TraceEvents.lockstep(requests, 4);
    }

    /** The events at ~55 per second (about 35 s), each keyed by its request as a replay keys it. */
    private static void produce(String bootstrap, List<SelectionEvent> events) {
        try (KafkaProducer<String, SelectionEvent> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap), new StringSerializer(),
                Topics.SELECTIONS.valueSerde().serializer())) {
            for (SelectionEvent e : events) {
                producer.send(new ProducerRecord<>(Topics.SELECTIONS.name(), Topics.selectionKey(e), e));
                Thread.sleep(18);
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The same topology and events without a crash: publication after every record. */
    private static Outputs withoutCrash(List<SelectionEvent> events) {
        PredictorSettings settings = CrashablePredictor.settings().withHeatmapPublishInterval(Duration.ZERO);
        StreamsBuilder builder = new StreamsBuilder();
        PredictorTopology.build(builder, settings);
        Outputs out = new Outputs();
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base(settings.applicationName(), "unused:9092", Path.of(
                        System.getProperty("java.io.tmpdir"), "crash-exact-" + ProcessHandle.current().pid()),
                        Map.of()))) {
            var in = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            for (SelectionEvent e : events) {
                in.pipeInput(Topics.selectionKey(e), e);
            }
            driver.advanceWallClockTime(Duration.ofSeconds(5));
            var heatmaps = driver.createOutputTopic(Topics.HEATMAPS.name(), Topics.HEATMAPS.keySerde().deserializer(),
                    Topics.HEATMAPS.valueSerde().deserializer());
            heatmaps.readKeyValuesToList().forEach(kv -> out.heatmap(kv.key, kv.value));
            var metrics = driver.createOutputTopic(Topics.PREDICTOR_METRICS.name(),
                    Topics.PREDICTOR_METRICS.keySerde().deserializer(),
                    Topics.PREDICTOR_METRICS.valueSerde().deserializer());
            metrics.readKeyValuesToList().forEach(kv -> out.metric(kv.key, kv.value));
        }
        return out;
    }

    private Process startPredictor(String bootstrap, int run) throws Exception {
        ChildJvm child = ChildJvm.start(work, "predictor-" + run, "256m", CrashablePredictor.class, bootstrap,
                work.resolve("state").toString());
        if (!"RUNNING\n".equals(child.awaitOutput(Duration.ofMinutes(2), "NOT RUNNING", "RUNNING\n"))) {
            child.process().destroyForcibly();
            throw new IllegalStateException("the predictor did not start: " + child.log());
        }
        return child.process();
    }

    /**
     * The latest whole heatmaps per key (each cell, exactly) and what of the accuracy does not depend on
     * timing, per metrics key.
     */
    private static final class Outputs {
        final Map<String, Map<String, Double>> heatmaps = new TreeMap<>();
        final Map<String, String> metrics = new TreeMap<>();

        void add(ConsumerRecord<byte[], byte[]> r) {
            if (r.topic().equals(Topics.HEATMAPS.name())) {
                heatmap(Topics.HEATMAPS.keySerde().deserializer().deserialize(r.topic(), r.key()),
                        r.value() == null ? null : Topics.HEATMAPS.valueSerde().deserializer().deserialize(r.topic(), r.value()));
            } else {
                metric(Topics.PREDICTOR_METRICS.keySerde().deserializer().deserialize(r.topic(), r.key()),
                        Topics.PREDICTOR_METRICS.valueSerde().deserializer().deserialize(r.topic(), r.value()));
            }
        }

        void heatmap(String key, HeatmapSnapshot s) {
            if (key.endsWith("/top")) {
                return; // top rows: what predictions read, not what a restart restores
            }
            if (s == null) {
                heatmaps.remove(key);
                return;
            }
            Map<String, Double> cells = new TreeMap<>();
            HeatmapRecords.forEachCell(s, (from, to, w) -> cells.merge(from + ">" + to, w, Double::sum));
            if (s.getKind() != HeatmapKind.POPULARITY || !cells.isEmpty()) {
                heatmaps.put(key, cells);
            }
        }

        void metric(String key, PredictorMetrics m) {
            String exact = "samples=" + m.getSamples() + " selected=" + m.getSelected() + " requests=" + m.getRequests();
            if (m.getPredictor().equals(RequestForecastProcessor.DECODE_PLAN_PREFILL_ONLY)) {
                exact += " hits=" + m.getHits() + " predicted=" + m.getPredicted() + " layerHits=" + m.getLayerHits();
            }
            metrics.put(key, exact);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Outputs other && heatmaps.equals(other.heatmaps) && metrics.equals(other.metrics);
        }

        @Override
        public int hashCode() {
            return heatmaps.hashCode() * 31 + metrics.hashCode();
        }
    }
}
