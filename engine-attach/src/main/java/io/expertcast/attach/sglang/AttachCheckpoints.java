package io.expertcast.attach.sglang;

import io.expertcast.schemas.AttachCheckpoint;
import io.expertcast.schemas.Topics;
import java.nio.charset.StandardCharsets;
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
 * The last committed {@link AttachCheckpoint} of a source on moe.attach-checkpoints. Written in the
 * producer's transaction with the windows it lists and read back read_committed, so after a crash
 * the checkpoint and the published selections agree.
 */
final class AttachCheckpoints {
    private AttachCheckpoints() {
    }

    /** The last committed checkpoint of a source, read to the end of the topic; null if none. */
    static AttachCheckpoint read(String bootstrap, Map<String, Object> clientProperties, String sourceId) {
        Properties p = new Properties();
        p.putAll(clientProperties); // TLS, SASL: but this reader's own settings below are what it needs
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        AttachCheckpoint found = null;
        byte[] key = sourceId.getBytes(StandardCharsets.UTF_8);
        String topic = Topics.ATTACH_CHECKPOINTS.name();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            if (partitions.isEmpty()) {
                throw new IllegalStateException("topic " + topic + " does not exist: create the topics first"
                        + " (expertcast topics create)");
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.currentTimeMillis() + 60_000;
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("could not read " + topic + " to its end");
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (Arrays.equals(r.key(), key)) {
                        found = r.value() == null ? null
                                : Topics.ATTACH_CHECKPOINTS.valueSerde().deserializer().deserialize(topic, r.value());
                    }
                }
            }
        }
        return found;
    }
}
