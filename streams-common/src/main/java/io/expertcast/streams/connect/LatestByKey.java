package io.expertcast.streams.connect;

import io.expertcast.schemas.Topic;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The last committed value of one key on a compacted topic, read from the beginning to the end the
 * topic had when asked: how a resumable job (replay, attach) finds its checkpoint. Reads committed
 * records only, so a checkpoint of an aborted transaction is never resumed from.
 */
public final class LatestByKey {
    private static final Duration METADATA_WAIT = Duration.ofSeconds(30);
    private static final long READ_LIMIT_MS = 60_000;

    private LatestByKey() {
    }

    /**
     * @param clientProperties --config/--property (TLS, SASL); this reader's own settings win
     * @return the value, or null if the key has none (never written, or its last record a tombstone)
     * @throws IllegalStateException if the topic does not exist or cannot be read to its end within a minute
     */
    public static <V> V read(String bootstrap, Map<String, Object> clientProperties, Topic<?, V> topic, byte[] key) {
        Properties p = new Properties();
        p.putAll(clientProperties);
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        byte[] latest = null;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic.name(), METADATA_WAIT).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            if (partitions.isEmpty()) {
                throw new IllegalStateException("topic " + topic.name() + " does not exist: create the topics first ("
                        + BrokerPreflight.CREATE_TOPICS + ")");
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.currentTimeMillis() + READ_LIMIT_MS;
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("could not read " + topic.name() + " to its end");
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (Arrays.equals(r.key(), key)) {
                        latest = r.value();
                    }
                }
            }
        }
        return latest == null ? null : topic.valueSerde().deserializer().deserialize(topic.name(), latest);
    }
}
