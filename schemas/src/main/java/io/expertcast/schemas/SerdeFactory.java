package io.expertcast.schemas;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;

/**
 * Makes the value serdes of every topic. The one place to plug in a registry-based serde where a
 * schema registry exists; here the default is Avro single-object encoding (docs/formats.md section 4).
 */
public interface SerdeFactory {

    /** A serde for the generated Avro class {@code type}. */
    <T extends SpecificRecord> Serde<T> serde(Class<T> type);

    /** The factory used unless configured otherwise. */
    static SerdeFactory defaultFactory() {
        return SingleObjectSerdeFactory.INSTANCE;
    }
}
