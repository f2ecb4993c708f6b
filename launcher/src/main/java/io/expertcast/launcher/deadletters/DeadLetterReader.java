package io.expertcast.launcher.deadletters;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads the latest records of moe.dead-letter without joining a consumer group (nothing is committed, so
 * reading never changes what anyone else sees): the last {@code limit} of each partition, newest last.
 */
public final class DeadLetterReader {
    private DeadLetterReader() {
    }

    /**
     * One dead letter and where it sits on the topic.
     *
     * @param partition partition of moe.dead-letter
     * @param offset    offset on it
     * @param letter    the record, or null if it could not be decoded
     * @param error     why it could not be decoded (null when decoded)
     */
    public record Entry(int partition, long offset, long timestampMs, DeadLetter letter, String error) {
    }

    /** What was read: the entries (oldest first) and how many dead letters the topic holds in all. */
    public record Result(List<Entry> latest, long total) {
    }

    /**
     * @param clientProperties bootstrap.servers and any client settings (TLS, SASL)
     * @param limit            how many of the newest to return
     * @param application      only those of this application (null: all); read from the newest
     *                         {@code scan} records of each partition
     */
    public static Result latest(Map<String, Object> clientProperties, int limit, String application, int scan,
                                Duration timeout) {
        Properties p = new Properties();
        p.putAll(clientProperties);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // the stages write them in transactions
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2000);
        p.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "expertcast-dead-letters");
        List<Entry> entries = new ArrayList<>();
        long total = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.DEAD_LETTER.name(), timeout).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            if (partitions.isEmpty()) {
                return new Result(List.of(), 0);
            }
            consumer.assign(partitions);
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(partitions, timeout);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            Map<TopicPartition, Long> stop = new HashMap<>();
            int perPartition = Math.max(limit, scan);
            for (TopicPartition tp : partitions) {
                total += end.get(tp) - begin.get(tp); // (transaction markers count too: an upper bound)
                long from = Math.max(begin.get(tp), end.get(tp) - perPartition);
                consumer.seek(tp, from);
                stop.put(tp, end.get(tp));
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < stop.get(tp))) {
                if (System.nanoTime() > deadline) {
                    break; // show what was read; the caller says the read was cut short only by count
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.offset() >= stop.get(new TopicPartition(r.topic(), r.partition()))) {
                        continue;
                    }
                    Entry e = decode(r);
                    if (application == null || (e.letter() != null && e.letter().getApplication().contains(application))) {
                        entries.add(e);
                    }
                }
            }
        }
        entries.sort(Comparator.comparingLong(Entry::timestampMs).thenComparingInt(Entry::partition)
                .thenComparingLong(Entry::offset));
        List<Entry> latest = entries.subList(Math.max(0, entries.size() - limit), entries.size());
        return new Result(List.copyOf(latest), total);
    }

    private static Entry decode(ConsumerRecord<byte[], byte[]> r) {
        try {
            DeadLetter letter = Topics.DEAD_LETTER.valueSerde().deserializer().deserialize(r.topic(), r.value());
            return new Entry(r.partition(), r.offset(), letter.getEventTimeMs(), letter, null);
        } catch (RuntimeException e) {
            return new Entry(r.partition(), r.offset(), r.timestamp(), null, e.getMessage());
        }
    }
}
