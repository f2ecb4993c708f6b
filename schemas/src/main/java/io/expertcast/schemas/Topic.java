package io.expertcast.schemas;

import org.apache.kafka.common.serialization.Serde;

/**
 * A topic with its key and value serdes, so the name and the serdes cannot be paired wrongly.
 *
 * @param name       topic name
 * @param keySerde   serde of the record key
 * @param valueSerde serde of the record value
 * @param compacted  whether the topic is a compacted table (cleanup.policy=compact)
 */
public record Topic<K, V>(String name, Serde<K> keySerde, Serde<V> valueSerde, boolean compacted) {
    @Override
    public String toString() {
        return name;
    }
}
