package io.expertcast.predictor;

import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TopologyTestDriver;

/**
 * What a predictor run leaves that must not depend on timing or on crashes: the latest whole heatmaps per key
 * (each cell, exactly: what a restart restores from) and, per accuracy key, what of the accuracy does not depend
 * on when a publication was read (samples, selected, requests of every predictor; hits and predictions of the
 * prefill-only plan). With no decay the counts are sums, the same in whatever order the request-side tasks'
 * lessons interleave. For the tests that compare a live run against {@link #oneRun}.
 */
final class ExactOutputs {
    final Map<String, Map<String, Double>> heatmaps = new TreeMap<>();
    final Map<String, String> metrics = new TreeMap<>();

    /** The predictor's topology over {@code events} in a {@link TopologyTestDriver}: publication after every record. */
    static ExactOutputs oneRun(List<SelectionEvent> events) {
        PredictorSettings settings = CrashablePredictor.settings().withHeatmapPublishInterval(Duration.ZERO);
        StreamsBuilder builder = new StreamsBuilder();
        PredictorTopology.build(builder, settings);
        ExactOutputs out = new ExactOutputs();
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

    /**
     * moe.heatmaps and moe.predictor-metrics as a read_committed consumer (group {@code group}) sees them, read
     * until they equal {@code expected} or 150 s have passed (a loaded machine: it ends as soon as equal).
     */
    static ExactOutputs read(String bootstrap, String group, ExactOutputs expected) {
        ExactOutputs live = new ExactOutputs();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.GROUP_ID_CONFIG, group),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(Topics.HEATMAPS.name(), Topics.PREDICTOR_METRICS.name()));
            long deadline = System.nanoTime() + Duration.ofSeconds(150).toNanos();
            while (!live.equals(expected) && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    live.add(r);
                }
            }
        }
        return live;
    }

    /** Every difference from {@code other}, both claims at once (accuracy, heatmaps), each side named. */
    List<String> differences(ExactOutputs other, String thisName, String otherName) {
        List<String> differences = new ArrayList<>();
        for (String key : union(metrics.keySet(), other.metrics.keySet())) {
            if (!Objects.equals(metrics.get(key), other.metrics.get(key))) {
                differences.add("accuracy " + key + ": " + thisName + " " + metrics.get(key) + ", " + otherName + " "
                        + other.metrics.get(key));
            }
        }
        for (String key : union(heatmaps.keySet(), other.heatmaps.keySet())) {
            Map<String, Double> want = heatmaps.get(key);
            Map<String, Double> got = other.heatmaps.get(key);
            if (!Objects.equals(want, got)) {
                differences.add("heatmap " + key + ": mass " + thisName + " " + mass(want) + ", " + otherName + " "
                        + mass(got));
            }
        }
        return differences;
    }

    private static SortedSet<String> union(java.util.Set<String> a, java.util.Set<String> b) {
        SortedSet<String> all = new TreeSet<>(a);
        all.addAll(b);
        return all;
    }

    private static double mass(Map<String, Double> cells) {
        return cells == null ? 0 : cells.values().stream().mapToDouble(Double::doubleValue).sum();
    }

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
        return o instanceof ExactOutputs other && heatmaps.equals(other.heatmaps) && metrics.equals(other.metrics);
    }

    @Override
    public int hashCode() {
        return heatmaps.hashCode() * 31 + metrics.hashCode();
    }
}
