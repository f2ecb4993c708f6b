package io.expertcast.streams;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.DeadLetterKeySerde;
import io.expertcast.schemas.Topics;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Builds the records of the dead-letter topic. A rejected record may be as large as the broker
 * accepts (a poison record of a megabyte): its key and value are kept only up to
 * {@link #KEPT_KEY_BYTES} and {@link #KEPT_VALUE_BYTES}, with the size and SHA-256 of the whole,
 * so that the letter always fits a producer request and a restarted stage does not fail on the
 * same record again. Every letter built here is counted by {@link RejectionLog}.
 */
public final class DeadLetters {
    /** Bytes of the rejected key kept in the letter (and as the letter's record key). */
    public static final int KEPT_KEY_BYTES = DeadLetterKeySerde.KEPT_BYTES;
    /** Bytes of the rejected value kept in the letter: a whole ordinary record, the head of a huge one. */
    public static final int KEPT_VALUE_BYTES = 16 * 1024;
    /** Characters of the reason kept (a reason may quote a field of the rejected record). */
    public static final int KEPT_REASON_CHARS = 1000;

    private DeadLetters() {
    }

    public static DeadLetter of(String application, String topic, int partition, long offset, String reason,
                                byte[] key, byte[] value) {
        String why = reason == null ? "unknown" : reason.length() <= KEPT_REASON_CHARS ? reason
                : reason.substring(0, KEPT_REASON_CHARS) + "... (" + reason.length() + " characters)";
        RejectionLog.shared().rejected(application, topic, why, partition, offset);
        return DeadLetter.newBuilder()
                .setApplication(application)
                .setSourceTopic(topic)
                .setSourcePartition(partition)
                .setSourceOffset(offset)
                .setReason(why)
                .setKey(cut(key, KEPT_KEY_BYTES))
                .setValue(cut(value, KEPT_VALUE_BYTES))
                .setKeySize(key == null ? -1 : key.length)
                .setKeySha256(sha256(key))
                .setValueSize(value == null ? -1 : value.length)
                .setValueSha256(sha256(value))
                .setEventTimeMs(System.currentTimeMillis())
                .build();
    }

    /** The letter's record key: the kept head of the rejected record's key (null for none). */
    public static byte[] recordKey(DeadLetter letter) {
        ByteBuffer key = letter.getKey();
        if (key == null) {
            return null;
        }
        byte[] bytes = new byte[key.remaining()];
        key.duplicate().get(bytes);
        return bytes;
    }

    /** The dead letter as a raw producer record, for Kafka Streams' error handlers. */
    public static ProducerRecord<byte[], byte[]> toProducerRecord(DeadLetter letter) {
        byte[] value = Topics.DEAD_LETTER.valueSerde().serializer().serialize(Topics.DEAD_LETTER.name(), letter);
        return new ProducerRecord<>(Topics.DEAD_LETTER.name(), recordKey(letter), value);
    }

    private static ByteBuffer cut(byte[] bytes, int kept) {
        if (bytes == null) {
            return null;
        }
        return ByteBuffer.wrap(bytes.length <= kept ? bytes : Arrays.copyOf(bytes, kept));
    }

    private static ByteBuffer sha256(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        try {
            return ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
