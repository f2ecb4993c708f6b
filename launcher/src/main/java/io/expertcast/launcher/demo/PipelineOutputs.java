package io.expertcast.launcher.demo;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads the output topics of a run (read_committed, so only what the stages committed under
 * exactly_once_v2) and keeps the tallies a summary or a test needs: counts of commands, the
 * latest metrics per key, the dead letters.
 */
public final class PipelineOutputs implements AutoCloseable {
    private static final List<String> TOPICS = List.of(Topics.PREFETCH.name(), Topics.ALLOCATIONS.name(),
            Topics.PREDICTOR_METRICS.name(), Topics.WAFER_METRICS.name(), Topics.DEAD_LETTER.name());

    private final KafkaConsumer<byte[], byte[]> consumer;
    private long prefetchCommands;
    private long nextTokenCommands;
    private long allocationPlans;
    private final Map<String, PredictorMetrics> predictorMetrics = new TreeMap<>();
    private final Map<String, WaferMetrics> waferMetrics = new TreeMap<>();
    private final java.util.ArrayList<DeadLetter> deadLetters = new java.util.ArrayList<>();

    public PipelineOutputs(String bootstrap) {
        this(bootstrap, java.util.Map.of());
    }

    /** As above, with Kafka client properties (TLS, SASL). */
    public PipelineOutputs(String bootstrap, java.util.Map<String, ?> clientProperties) {
        Properties p = new Properties();
        p.putAll(clientProperties);
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        // Manual assignment: no consumer group to leave behind.
        var partitions = TOPICS.stream().flatMap(t -> consumer.partitionsFor(t, Duration.ofSeconds(30)).stream()
                .map(i -> new org.apache.kafka.common.TopicPartition(t, i.partition()))).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    /** Reads whatever has arrived, for up to {@code wait}. */
    public void poll(Duration wait) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(wait)) {
            String topic = r.topic();
            if (topic.equals(Topics.PREFETCH.name())) {
                var command = Topics.PREFETCH.valueSerde().deserializer().deserialize(topic, r.value());
                if (command.getScope() == io.expertcast.schemas.PrefetchScope.DECODE_PHASE) {
                    prefetchCommands++;
                } else {
                    nextTokenCommands++;
                }
            } else if (topic.equals(Topics.ALLOCATIONS.name())) {
                allocationPlans++;
            } else if (topic.equals(Topics.PREDICTOR_METRICS.name())) {
                PredictorMetrics m = Topics.PREDICTOR_METRICS.valueSerde().deserializer().deserialize(topic, r.value());
                if (m.getTag().equals("*")) { // the per-tag figures are not summarised here
                    predictorMetrics.put(m.getModel() + "/" + m.getPredictor(), m);
                }
            } else if (topic.equals(Topics.WAFER_METRICS.name())) {
                WaferMetrics m = Topics.WAFER_METRICS.valueSerde().deserializer().deserialize(topic, r.value());
                waferMetrics.put(m.getModel() + "/" + m.getPolicy(), m);
            } else if (topic.equals(Topics.DEAD_LETTER.name())) {
                deadLetters.add(Topics.DEAD_LETTER.valueSerde().deserializer().deserialize(topic, r.value()));
            }
        }
    }

    public long prefetchCommands() {
        return prefetchCommands;
    }

    /** NEXT_TOKEN prefetch commands (one per decode step but each request's last). */
    public long nextTokenCommands() {
        return nextTokenCommands;
    }

    public long allocationPlans() {
        return allocationPlans;
    }

    /** Latest predictor metrics, keyed {@code model/predictor}. */
    public Map<String, PredictorMetrics> predictorMetrics() {
        return predictorMetrics;
    }

    /** Latest wafer metrics, keyed {@code model/policy}. */
    public Map<String, WaferMetrics> waferMetrics() {
        return waferMetrics;
    }

    public List<DeadLetter> deadLetters() {
        return deadLetters;
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}
