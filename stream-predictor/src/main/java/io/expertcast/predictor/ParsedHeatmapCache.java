package io.expertcast.predictor;

import io.expertcast.schemas.HeatmapSnapshot;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Every moe.heatmaps snapshot this instance has read, parsed once and shared by its tasks.
 *
 * The heatmaps of {@link PredictorTopology#GLOBAL_HEATMAPS_STORE}, each parsed once per published
 * snapshot and shared by every task of one application instance. {@link HeatmapStoreLoader} (the
 * global store's only writer) replaces a key's entry whenever a snapshot of it arrives, restores
 * included, so a reader sees exactly what the store holds without decoding the store's value on every
 * use: decoding 58 snapshots of up to 60,000 cells per task and second took most of the predictor's
 * time. Thread-safe: written by the global thread, read by the stream threads; parsed values are never
 * modified.
 */
final class ParsedHeatmapCache {
    /** One key's snapshot as published (null: none) and what readers parsed from it. */
    private static final class Entry {
        final byte[] snapshot;
        volatile Object parsed;

        Entry(byte[] snapshot) {
            this.snapshot = snapshot;
        }
    }

    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    /** Bumped by every publication and clear, so readers may keep their own index until it moves. */
    private final AtomicLong version = new AtomicLong();

    long version() {
        return version.get();
    }

    /** A new snapshot of a key, the topic's bytes (null: deleted): the first read after decodes and parses it. */
    void published(String key, byte[] snapshot) {
        entries.put(key, new Entry(snapshot));
        version.incrementAndGet();
    }

    /** Forgets every key (the global store is being rebuilt); reads go to the store until updates arrive. */
    void clear() {
        entries.clear();
        version.incrementAndGet();
    }

    /**
     * A key's parsed heatmap: {@code parse} of its latest snapshot (null if none); on a key not seen since
     * start, the snapshot comes from {@code stored} (the store), unless an update arrived meanwhile.
     */
    @SuppressWarnings("unchecked")
    <T> T get(String key, Function<String, byte[]> stored, Function<HeatmapSnapshot, T> parse) {
        Entry e = entries.get(key);
        if (e == null) {
            Entry loaded = new Entry(stored.apply(key));
            // An update published while the store was read wins over what was read.
            e = entries.putIfAbsent(key, loaded);
            if (e == null) {
                e = loaded;
            }
        }
        Object p = e.parsed;
        if (p == null) {
            // Decoded on the reading stream thread, once per snapshot (two threads may both: same value, harmless).
            p = HeatmapRecords.parseOrEmpty(key, e.snapshot, parse);
            e.parsed = p;
        }
        return (T) p;
    }
}
