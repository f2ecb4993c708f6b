package io.expertcast.predictor;

import io.expertcast.schemas.LayerSelections;
import io.expertcast.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads back a range of moe.heatmap-lessons for the aggregator restoring a key: a plain read_committed
 * consumer, assigned (no group), so it sees exactly the lessons whose transactions committed, in offset
 * order. Client settings (bootstrap, security) are the application's own.
 */
final class HeatmapLessonsReplay implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HeatmapLessonsReplay.class);
    /** Give up on a range (counted as lost, loudly) when the broker hands nothing new for this long. */
    static final Duration STALL = Duration.ofSeconds(60);
    /** Keys never copied from the application's settings: this consumer sets its own. */
    private static final Set<String> OWN = Set.of(ConsumerConfig.GROUP_ID_CONFIG, ConsumerConfig.CLIENT_ID_CONFIG,
            ConsumerConfig.ISOLATION_LEVEL_CONFIG, ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
            ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
            ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, ConsumerConfig.GROUP_INSTANCE_ID_CONFIG,
            ConsumerConfig.GROUP_PROTOCOL_CONFIG);

    /** One lesson read back: its offset, timestamp and value. */
    interface Visitor {
        void lesson(long offset, long timestamp, LayerSelections lesson);
    }

    private final KafkaConsumer<byte[], byte[]> consumer;

    HeatmapLessonsReplay(Map<String, Object> appConfigs, String clientId) {
        Map<String, Object> config = new HashMap<>();
        Set<String> names = ConsumerConfig.configNames();
        for (var e : appConfigs.entrySet()) {
            if (names.contains(e.getKey()) && !OWN.contains(e.getKey())) {
                config.put(e.getKey(), e.getValue());
            }
        }
        // Streams' consumer-prefixed overrides (e.g. security settings given for consumers only) win.
        for (String prefix : List.of(StreamsConfig.CONSUMER_PREFIX, StreamsConfig.RESTORE_CONSUMER_PREFIX)) {
            for (var e : appConfigs.entrySet()) {
                String name = e.getKey().startsWith(prefix) ? e.getKey().substring(prefix.length()) : null;
                if (name != null && names.contains(name) && !OWN.contains(name)) {
                    config.put(name, e.getValue());
                }
            }
        }
        config.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        this.consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /**
     * The first offset still on the partition (older lessons were removed by retention).
     */
    long beginning(int partition) {
        TopicPartition tp = new TopicPartition(Topics.HEATMAP_LESSONS.name(), partition);
        return consumer.beginningOffsets(List.of(tp)).get(tp);
    }

    /**
     * Every committed lesson of {@code key} at offsets [from, to) of the partition, in order; returns how
     * many offsets of the range could not be read (0 unless the broker stalled for {@link #STALL}). An
     * undecodable value is skipped: the aggregator dead-lettered it when it first came.
     */
    long replay(int partition, String key, long from, long to, Visitor visitor) {
        TopicPartition tp = new TopicPartition(Topics.HEATMAP_LESSONS.name(), partition);
        consumer.assign(List.of(tp));
        consumer.seek(tp, from);
        byte[] wanted = key.getBytes(StandardCharsets.UTF_8);
        var deserializer = Topics.HEATMAP_LESSONS.valueSerde().deserializer();
        long progressAt = System.nanoTime();
        long position = from;
        while (position < to) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                if (r.offset() >= to) {
                    break;
                }
                if (r.key() != null && Arrays.equals(r.key(), wanted) && r.value() != null) {
                    LayerSelections lesson;
                    try {
                        lesson = deserializer.deserialize(tp.topic(), r.value());
                    } catch (RuntimeException e) {
                        continue;
                    }
                    visitor.lesson(r.offset(), r.timestamp(), lesson);
                }
            }
            long now = consumer.position(tp);
            if (now > position) {
                position = now;
                progressAt = System.nanoTime();
            } else if (System.nanoTime() - progressAt > STALL.toNanos()) {
                LOG.error("moe.heatmap-lessons partition {}: replay for {} stalled at offset {} of [{}, {}): the rest "
                        + "is not restored", partition, key, position, from, to);
                return to - position;
            }
        }
        consumer.unsubscribe();
        return 0;
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}
