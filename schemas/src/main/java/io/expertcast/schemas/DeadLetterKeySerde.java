package io.expertcast.schemas;

import java.util.Arrays;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Key serde of moe.dead-letter: the rejected record's key, cut to its first {@link #KEPT_BYTES}. A
 * poison record's key may be as large as the broker accepts; written whole beside the letter (which
 * keeps its size and hash) it would make the dead letter too large to produce, and the stage would
 * fail on the same record after every restart. Cutting it here covers every sink of every stage.
 */
public final class DeadLetterKeySerde {
    /** Bytes of a rejected record's key kept as the dead letter's key. */
    public static final int KEPT_BYTES = 1024;

    private DeadLetterKeySerde() {
    }

    /** The first {@link #KEPT_BYTES} of {@code key} (the array itself when it is no longer). */
    public static byte[] cut(byte[] key) {
        return key == null || key.length <= KEPT_BYTES ? key : Arrays.copyOf(key, KEPT_BYTES);
    }

    static Serde<byte[]> serde() {
        Serializer<byte[]> cutting = (topic, key) -> cut(key);
        return Serdes.serdeFrom(cutting, new ByteArrayDeserializer());
    }
}
