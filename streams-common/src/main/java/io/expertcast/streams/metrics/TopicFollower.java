package io.expertcast.streams.metrics;

import io.expertcast.schemas.Topic;
import io.micrometer.core.instrument.Counter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads public topics as any outside reader would (a plain consumer, no group, read_committed, every
 * partition assigned): what a service derives its own metrics from, and what the pipeline's page
 * draws. Compacted tables are read from the beginning; event topics from the last
 * {@code tail} records of each partition, so a start does not replay a day of history. A record that
 * does not decode is counted in {@code expertcast_topic_undecodable_records_total{topic}} and handed
 * to {@link Handler#undecodable}, never dropped silently and never fatal.
 */
public final class TopicFollower implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TopicFollower.class);

    /** What a follower does with a topic's records (called on the follower's thread). */
    public interface Handler<K, V> {
        void record(K key, V value, long timestampMs);

        /** A record whose key or value did not decode with the topic's serdes. */
        default void undecodable(String topic, int partition, long offset, RuntimeException error) {
        }
    }

    private record Subscription<K, V>(Topic<K, V> topic, int tail, Handler<K, V> handler) {
        void deliver(ConsumerRecord<byte[], byte[]> r) {
            K key = topic.keySerde().deserializer().deserialize(r.topic(), r.key());
            V value = r.value() == null ? null : topic.valueSerde().deserializer().deserialize(r.topic(), r.value());
            handler.record(key, value, r.timestamp());
        }
    }

    private final Map<String, Subscription<?, ?>> subscriptions = new HashMap<>();
    private final Map<String, Counter> undecodable = new ConcurrentHashMap<>();
    private final String bootstrap;
    private final String clientId;
    private final ServiceMetrics metrics;
    private volatile KafkaConsumer<byte[], byte[]> consumer;
    private volatile boolean closed;
    private Thread thread;

    /** Follows on {@code bootstrap} as client {@code clientId}; its consumer's metrics go to {@code metrics} (may be null). */
    public TopicFollower(String bootstrap, String clientId, ServiceMetrics metrics) {
        this.bootstrap = bootstrap;
        this.clientId = clientId;
        this.metrics = metrics;
    }

    /** Follows {@code topic}: a compacted topic whole, any other from its last {@code tail} records per partition. */
    public <K, V> TopicFollower follow(Topic<K, V> topic, int tail, Handler<K, V> handler) {
        if (thread != null) {
            throw new IllegalStateException("follow before start");
        }
        subscriptions.put(topic.name(), new Subscription<>(topic, topic.compacted() ? -1 : tail, handler));
        return this;
    }

    /** Starts the reading thread; topics that do not exist yet are looked for again every few seconds. */
    public TopicFollower start() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        consumer = new KafkaConsumer<>(p);
        if (metrics != null) {
            metrics.bind(consumer);
        }
        thread = new Thread(this::run, clientId);
        thread.setDaemon(true);
        thread.start();
        return this;
    }

    private void run() {
        KafkaConsumer<byte[], byte[]> c = consumer;
        List<TopicPartition> assigned = new ArrayList<>();
        long nextLookup = 0;
        try {
            while (!closed) {
                if (assignedTopics(assigned) < subscriptions.size() && System.currentTimeMillis() >= nextLookup) {
                    assignMissing(c, assigned);
                    nextLookup = System.currentTimeMillis() + 3000;
                }
                if (assigned.isEmpty()) {
                    Thread.sleep(500);
                    continue;
                }
                ConsumerRecords<byte[], byte[]> records = c.poll(Duration.ofMillis(500));
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    Subscription<?, ?> s = subscriptions.get(r.topic());
                    try {
                        s.deliver(r);
                    } catch (RuntimeException e) {
                        undecodable.computeIfAbsent(r.topic(), t -> counter(t)).increment();
                        LOG.debug("undecodable record {}-{}@{}", r.topic(), r.partition(), r.offset(), e);
                        s.handler().undecodable(r.topic(), r.partition(), r.offset(), e);
                    }
                }
            }
        } catch (WakeupException | InterruptedException e) {
            // closing
        } catch (RuntimeException e) {
            if (!closed) {
                LOG.error("topic follower {} stopped", clientId, e);
            }
        } finally {
            c.close(Duration.ofSeconds(5));
        }
    }

    private Counter counter(String topic) {
        Counter.Builder b = Counter.builder("expertcast.topic.undecodable.records")
                .description("Records a reader of this service could not decode (shown as such, then skipped)")
                .baseUnit("records").tag("topic", topic);
        return metrics == null ? b.register(new io.micrometer.core.instrument.simple.SimpleMeterRegistry())
                : b.register(metrics.registry());
    }

    /** Assigns every partition of the followed topics that exist now, each at its start position. */
    private void assignMissing(KafkaConsumer<byte[], byte[]> c, List<TopicPartition> assigned) {
        List<TopicPartition> added = new ArrayList<>();
        for (Subscription<?, ?> s : subscriptions.values()) {
            if (assigned.stream().anyMatch(tp -> tp.topic().equals(s.topic().name()))) {
                continue;
            }
            List<PartitionInfo> partitions;
            try {
                partitions = c.partitionsFor(s.topic().name(), Duration.ofSeconds(2));
            } catch (RuntimeException e) {
                LOG.debug("no metadata for {} yet", s.topic().name(), e);
                continue;
            }
            if (partitions == null || partitions.isEmpty()) {
                continue;
            }
            partitions.forEach(pi -> added.add(new TopicPartition(pi.topic(), pi.partition())));
        }
        if (added.isEmpty()) {
            return;
        }
        assigned.addAll(added);
        c.assign(assigned);
        Map<TopicPartition, Long> ends = c.endOffsets(added, Duration.ofSeconds(10));
        Map<TopicPartition, Long> begins = c.beginningOffsets(added, Duration.ofSeconds(10));
        for (TopicPartition tp : added) {
            int tail = subscriptions.get(tp.topic()).tail();
            long begin = begins.getOrDefault(tp, 0L);
            long end = ends.getOrDefault(tp, 0L);
            c.seek(tp, tail < 0 ? begin : Math.max(begin, end - tail));
        }
    }

    private static long assignedTopics(List<TopicPartition> assigned) {
        return assigned.stream().map(TopicPartition::topic).distinct().count();
    }

    @Override
    public void close() {
        closed = true;
        KafkaConsumer<byte[], byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        if (thread != null) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
