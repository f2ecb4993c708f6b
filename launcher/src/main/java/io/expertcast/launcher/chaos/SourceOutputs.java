package io.expertcast.launcher.chaos;

import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The committed (read_committed) plans and wafer totals of every source: each plan by identity
 * (pass, layer) and how many records carried them, so a lost plan and a plan written twice both show.
 */
final class SourceOutputs implements AutoCloseable {
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Map<String, Set<String>> plans = new HashMap<>();
    private final Map<String, Long> planRecords = new HashMap<>();
    private final Map<String, WaferMetrics> wafer = new HashMap<>();

    SourceOutputs(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> parts = new ArrayList<>();
        for (String t : List.of(Topics.ALLOCATIONS.name(), Topics.WAFER_METRICS.name())) {
            consumer.partitionsFor(t, Duration.ofSeconds(60)).forEach(i -> parts.add(new TopicPartition(t, i.partition())));
        }
        consumer.assign(parts);
        consumer.seekToBeginning(parts);
    }

    void poll(Duration wait) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(wait)) {
            if (r.topic().equals(Topics.ALLOCATIONS.name())) {
                AllocationPlan plan = Topics.ALLOCATIONS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                plans.computeIfAbsent(plan.getSource(), s -> new HashSet<>()).add(plan.getPassId() + "/" + plan.getLayer());
                planRecords.merge(plan.getSource(), 1L, Long::sum);
            } else {
                wafer.put(new String(r.key(), StandardCharsets.UTF_8),
                        Topics.WAFER_METRICS.valueSerde().deserializer().deserialize(r.topic(), r.value()));
            }
        }
    }

    /** Distinct (pass, layer) plans of {@code source}. */
    long plans(String source) {
        return plans.getOrDefault(source, Set.of()).size();
    }

    /** Plan records of {@code source} (more than {@link #plans} when one was written twice). */
    long planRecords(String source) {
        return planRecords.getOrDefault(source, 0L);
    }

    /** The latest totals of {@code model/source/policy}, or null. */
    WaferMetrics totals(String model, String source, String policy) {
        return wafer.get(model + "/" + source + "/" + policy);
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}
