package io.expertcast.predictor;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Reads moe.heatmaps into the global store (the topic's bytes) and tells the parsed cache.
 *
 * Keeps {@link PredictorTopology#GLOBAL_HEATMAPS_STORE} (every instance's copy of moe.heatmaps, the topic's
 * bytes as they are: nothing decoded or encoded again on this thread) and tells {@link ParsedHeatmapCache}
 * of every new snapshot. Kafka Streams runs a global store's own processor on restore too, so the parsed
 * cache follows the store from the first record.
 */
final class HeatmapStoreLoader implements Processor<String, byte[], Void, Void> {
    private final ParsedHeatmapCache published;
    private KeyValueStore<String, byte[]> store;

    HeatmapStoreLoader(ParsedHeatmapCache published) {
        this.published = published;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.store = context.getStateStore(PredictorTopology.GLOBAL_HEATMAPS_STORE);
        // A (re)start or a rebuild of the store replays the topic through a fresh processor.
        published.clear();
    }

    @Override
    public void process(Record<String, byte[]> record) {
        if (record.key() == null) {
            return; // a global table ignores keyless records too
        }
        if (record.value() == null) {
            store.delete(record.key());
        } else {
            store.put(record.key(), record.value());
        }
        published.published(record.key(), record.value());
    }
}
