package io.expertcast.offline;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.Topics;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import io.expertcast.allocator.StoredPlacement;

/**
 * The expert distribution table as moe.placement holds it now, read by a plain consumer from the
 * start of the (compacted) topic to its end: the same rows the allocator's global store holds, the
 * latest per key, a deleted row (tombstone) sending the expert back to its even home.
 */
final class LivePlacement {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private LivePlacement() {
    }

    /** The model's table; IllegalArgumentException for a row that cannot be part of it (names the key and offset). */
    static ExpertDistributionTable read(String bootstrap, Map<String, Object> clientProperties, ModelShape model,
                                        int dies) {
        Map<String, ConsumerRecord<String, PlacementEntry>> latest = new HashMap<>();
        Map<String, Object> config = new HashMap<>(clientProperties); // TLS, SASL; this reader's own settings win
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        config.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT.toMillis());
        try (KafkaConsumer<String, PlacementEntry> consumer = new KafkaConsumer<>(config,
                Topics.PLACEMENT.keySerde().deserializer(), Topics.PLACEMENT.valueSerde().deserializer())) {
            var infos = consumer.partitionsFor(Topics.PLACEMENT.name(), TIMEOUT);
            if (infos == null || infos.isEmpty()) {
                throw new IllegalArgumentException("no topic " + Topics.PLACEMENT.name() + " on " + bootstrap);
            }
            List<TopicPartition> partitions = infos.stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, TIMEOUT);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p, TIMEOUT) < end.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalArgumentException("could not read " + Topics.PLACEMENT.name() + " to its end within "
                            + TIMEOUT.toSeconds() + " s");
                }
                for (ConsumerRecord<String, PlacementEntry> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.key() != null && r.key().startsWith(model.id() + "/")) {
                        latest.put(r.key(), r);
                    }
                }
            }
        }
        ExpertDistributionTable table = ExpertDistributionTable.even(model, dies);
        for (ConsumerRecord<String, PlacementEntry> r : latest.values()) {
            PlacementEntry row = r.value();
            if (row == null) {
                continue; // deleted: the even home, as in the allocator's store
            }
            Optional<String> problem = row.getModel().equals(model.id())
                    ? StoredPlacement.check(row, model, dies)
                    : Optional.of("row of model " + row.getModel());
            if (problem.isPresent()) {
                throw new IllegalArgumentException(Topics.PLACEMENT.name() + " row " + r.key() + " (partition "
                        + r.partition() + ", offset " + r.offset() + ") does not fit " + model.id() + " on " + dies
                        + " dies: " + problem.get());
            }
            table.set(row.getLayer(), row.getExpert(), row.getHomeDie(),
                    row.getReplicaDies().stream().mapToInt(Integer::intValue).toArray());
        }
        return table;
    }
}
