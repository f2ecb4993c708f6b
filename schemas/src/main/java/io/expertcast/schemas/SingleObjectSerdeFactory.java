package io.expertcast.schemas;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Avro single-object encoding: {@code C3 01}, the writer schema's 8-byte CRC-64-AVRO fingerprint,
 * then the body. Readers resolve every released writer version kept in {@link ReleasedSchemas},
 * so records written by an older release stay readable.
 */
public final class SingleObjectSerdeFactory implements SerdeFactory {

    static final SingleObjectSerdeFactory INSTANCE = new SingleObjectSerdeFactory();

    private final ConcurrentHashMap<Class<?>, Serde<?>> serdes = new ConcurrentHashMap<>();

    private SingleObjectSerdeFactory() {
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends SpecificRecord> Serde<T> serde(Class<T> type) {
        return (Serde<T>) serdes.computeIfAbsent(type, t -> create(type));
    }

    private static <T extends SpecificRecord> Serde<T> create(Class<T> type) {
        SpecificData data = SpecificData.getForClass(type);
        Schema schema = data.getSchema(type);
        BinaryMessageEncoder<T> encoder = new BinaryMessageEncoder<>(data, schema);
        BinaryMessageDecoder<T> decoder = new BinaryMessageDecoder<>(data, schema);
        for (Schema released : ReleasedSchemas.versionsOf(schema.getFullName())) {
            decoder.addSchema(released);
        }
        Serializer<T> serializer = (topic, value) -> {
            if (value == null) {
                return null;
            }
            try {
                ByteBuffer buffer = encoder.encode(value);
                byte[] bytes = new byte[buffer.remaining()];
                buffer.get(bytes);
                return bytes;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        Deserializer<T> deserializer = (topic, bytes) -> {
            if (bytes == null) {
                return null;
            }
            try {
                return decoder.decode(bytes);
            } catch (IOException | RuntimeException e) {
                throw new SerializationException("cannot decode " + schema.getName() + " from " + bytes.length
                        + " bytes on topic " + topic + ": " + e, e);
            }
        };
        return Serdes.serdeFrom(serializer, deserializer);
    }
}
