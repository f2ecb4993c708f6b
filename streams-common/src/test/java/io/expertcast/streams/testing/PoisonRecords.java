package io.expertcast.streams.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.Topics;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Issue 19's poison record: a 500 KB key and a 500 KB value on one topic (about 1 MB, which the
 * broker accepts), and the checks that its dead letter is small and names it by size and hash.
 */
public final class PoisonRecords {
    public static final int KEY_BYTES = 500_000;
    public static final int VALUE_BYTES = 500_000;
    /** A dead letter of a poison record must stay far below the producer's 1 MB request limit. */
    public static final int MAX_LETTER_BYTES = 64 * 1024;

    private PoisonRecords() {
    }

    /** Random (undecodable) bytes; the key is printable so that it would also pass as a String. */
    public static byte[] key(long seed) {
        byte[] key = new byte[KEY_BYTES];
        Random random = new Random(seed);
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) ('a' + random.nextInt(26));
        }
        return key;
    }

    public static byte[] value(long seed) {
        byte[] value = new byte[VALUE_BYTES];
        new Random(seed).nextBytes(value);
        return value;
    }

    /**
     * Two poison records for moe.selections: an undecodable one (500 KB key, 500 KB random value) and
     * a decodable but invalid one (an unknown model) under a 500 KB key.
     */
    public static List<ProducerRecord<byte[], byte[]>> selections() {
        io.expertcast.schemas.SelectionEvent unknownModel = io.expertcast.streams.StreamsTestData
                .selection("poison", 1, 0, 1, 0L, 0, 3);
        unknownModel.setModel("no-such-model");
        return List.of(
                new ProducerRecord<>(Topics.SELECTIONS.name(), key(1), value(2)),
                new ProducerRecord<>(Topics.SELECTIONS.name(), key(3), Topics.SELECTIONS.valueSerde().serializer()
                        .serialize(Topics.SELECTIONS.name(), unknownModel)));
    }

    /** Checks the two letters of {@link #selections()} among {@code letters}. */
    public static void assertSelectionLetters(List<ConsumerRecord<byte[], byte[]>> letters) throws Exception {
        List<ConsumerRecord<byte[], byte[]>> poison = letters.stream()
                .filter(r -> decode(r).getKeySize() == KEY_BYTES).toList();
        assertEquals(2, poison.size(), "one letter per poison record");
        ConsumerRecord<byte[], byte[]> undecodable = poison.stream()
                .filter(r -> decode(r).getReason().startsWith("undecodable")).findFirst().orElseThrow();
        assertTruncatedLetter(undecodable, key(1), value(2));
        ConsumerRecord<byte[], byte[]> invalid = poison.stream()
                .filter(r -> decode(r).getReason().contains("unknown model")).findFirst().orElseThrow();
        assertTruncatedLetter(invalid, key(3), null);
    }

    /** Sends raw records, with a producer allowed to send ~1 MB ones. */
    public static void send(String bootstrap, List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 * 1024 * 1024), new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (var r : records) {
                producer.send(r).get();
            }
        }
    }

    /** Committed dead letters until {@code done} holds for the list (or the timeout fails the test). */
    public static List<ConsumerRecord<byte[], byte[]>> deadLetters(String bootstrap, String group,
                                                                   Predicate<List<ConsumerRecord<byte[], byte[]>>> done,
                                                                   Duration timeout) throws InterruptedException {
        List<ConsumerRecord<byte[], byte[]>> letters = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.GROUP_ID_CONFIG, group,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(Topics.DEAD_LETTER.name()));
            Poll.until(timeout, () -> {
                consumer.poll(Duration.ofMillis(200)).forEach(letters::add);
                return done.test(letters);
            }, "dead letters");
        }
        return letters;
    }

    public static DeadLetter decode(ConsumerRecord<byte[], byte[]> record) {
        return Topics.DEAD_LETTER.valueSerde().deserializer().deserialize(Topics.DEAD_LETTER.name(), record.value());
    }

    /** The letter names the poison record by size and SHA-256, keeps only its head, and is small. */
    public static void assertTruncatedLetter(ConsumerRecord<byte[], byte[]> record, byte[] key, byte[] value)
            throws Exception {
        DeadLetter letter = decode(record);
        int size = (record.key() == null ? 0 : record.key().length) + record.value().length;
        assertTrue(size < MAX_LETTER_BYTES, "dead letter of " + size + " bytes");
        assertEquals(key.length, letter.getKeySize());
        assertArrayEquals(sha256(key), bytes(letter.getKeySha256()));
        assertArrayEquals(Arrays.copyOf(key, bytes(letter.getKey()).length), bytes(letter.getKey()),
                "the kept key is the head of the original");
        if (value != null) {
            assertEquals(value.length, letter.getValueSize());
            assertArrayEquals(sha256(value), bytes(letter.getValueSha256()));
            assertTrue(letter.getValue().remaining() < value.length, "the value is cut");
        }
    }

    public static byte[] sha256(byte[] bytes) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(bytes);
    }

    public static byte[] bytes(ByteBuffer buffer) {
        byte[] b = new byte[buffer.remaining()];
        buffer.duplicate().get(b);
        return b;
    }
}
