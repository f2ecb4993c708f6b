package io.expertcast.streams;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.Topics;
import java.nio.ByteBuffer;
import org.apache.kafka.clients.producer.ProducerRecord;

/** Builds the records of the dead-letter topic. */
public final class DeadLetters {
    private DeadLetters() {
    }

    public static DeadLetter of(String application, String topic, int partition, long offset, String reason,
                                byte[] key, byte[] value) {
        return DeadLetter.newBuilder()
                .setApplication(application)
                .setSourceTopic(topic)
                .setSourcePartition(partition)
                .setSourceOffset(offset)
                .setReason(reason)
                .setKey(key == null ? null : ByteBuffer.wrap(key))
                .setValue(value == null ? null : ByteBuffer.wrap(value))
                .setEventTimeMs(System.currentTimeMillis())
                .build();
    }

    /** The dead letter as a raw producer record, for Kafka Streams' error handlers. */
    public static ProducerRecord<byte[], byte[]> toProducerRecord(DeadLetter letter, byte[] key) {
        byte[] value = Topics.DEAD_LETTER.valueSerde().serializer().serialize(Topics.DEAD_LETTER.name(), letter);
        return new ProducerRecord<>(Topics.DEAD_LETTER.name(), key, value);
    }
}
