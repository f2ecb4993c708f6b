package io.expertcast.core.state;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * State kept per key whose keys the traffic chooses (workload tags, say: 500 distinct tags made
 * the services' state grow without end), bounded in two ways: at most {@code maxEntries} keys
 * (the least recently used goes first), and optionally no key untouched for longer than
 * {@code ttlMs} ({@link #expire}). Every eviction is counted, by cause, and reported to the
 * listener, which deletes what else the key holds (a store entry, a profile). Kafka-free and not
 * thread-safe: one stream task owns one.
 */
public final class BoundedLru<K, V> {
    private final int maxEntries;
    private final long ttlMs;
    private final BiConsumer<K, V> onEvict;
    /** In order of last touch, least recent first (moved to the end by hand, so peeks do not reorder). */
    private final LinkedHashMap<K, Entry<V>> entries = new LinkedHashMap<>();
    private long evictedBySize;
    private long evictedByAge;

    private static final class Entry<V> {
        V value;
        long touchedMs;

        Entry(V value, long touchedMs) {
            this.value = value;
            this.touchedMs = touchedMs;
        }
    }

    /**
     * @param maxEntries keys kept at most (>= 1)
     * @param ttlMs      a key untouched for longer is evicted by {@link #expire}; 0 for no age limit
     * @param onEvict    told of every evicted key and its value (may be a no-op)
     */
    public BoundedLru(int maxEntries, long ttlMs, BiConsumer<K, V> onEvict) {
        if (maxEntries < 1 || ttlMs < 0) {
            throw new IllegalArgumentException("a bounded map needs maxEntries >= 1 and ttl >= 0, got "
                    + maxEntries + " and " + ttlMs + " ms");
        }
        this.maxEntries = maxEntries;
        this.ttlMs = ttlMs;
        this.onEvict = onEvict;
    }

    /** The value of {@code key} (touched: it becomes the most recently used), or null. */
    public V get(K key, long nowMs) {
        Entry<V> e = entries.remove(key);
        if (e == null) {
            return null;
        }
        entries.put(key, e);
        e.touchedMs = Math.max(e.touchedMs, nowMs);
        return e.value;
    }

    /** The value without touching it, or null. */
    public V peek(K key) {
        Entry<V> e = entries.get(key);
        return e == null ? null : e.value;
    }

    public boolean containsKey(K key) {
        return entries.containsKey(key);
    }

    /** Sets (and touches) {@code key}; evicts the least recently used key when the map is full. */
    public void put(K key, V value, long nowMs) {
        Entry<V> e = entries.remove(key);
        if (e != null) {
            entries.put(key, e);
            e.value = value;
            e.touchedMs = Math.max(e.touchedMs, nowMs);
            return;
        }
        entries.put(key, new Entry<>(value, nowMs));
        evictOverflow();
    }

    /** The value of {@code key}, made by {@code create} (and possibly evicting another) if absent; touched. */
    public V computeIfAbsent(K key, long nowMs, Function<K, V> create) {
        V value = get(key, nowMs);
        if (value == null) {
            value = create.apply(key);
            put(key, value, nowMs);
        }
        return value;
    }

    /** Removes {@code key} (not counted as an eviction); its value, or null. */
    public V remove(K key) {
        Entry<V> e = entries.remove(key);
        return e == null ? null : e.value;
    }

    /** Evicts every key untouched for longer than the TTL at {@code nowMs}; how many. */
    public int expire(long nowMs) {
        if (ttlMs == 0) {
            return 0;
        }
        List<Map.Entry<K, Entry<V>>> old = new ArrayList<>();
        for (Map.Entry<K, Entry<V>> e : entries.entrySet()) {
            if (nowMs - e.getValue().touchedMs > ttlMs) {
                old.add(e);
            }
        }
        for (Map.Entry<K, Entry<V>> e : old) {
            entries.remove(e.getKey());
            evictedByAge++;
            onEvict.accept(e.getKey(), e.getValue().value);
        }
        return old.size();
    }

    /** When the key was last touched, or -1. */
    public long touchedMs(K key) {
        Entry<V> e = entries.get(key);
        return e == null ? -1 : e.touchedMs;
    }

    private void evictOverflow() {
        Iterator<Map.Entry<K, Entry<V>>> it = entries.entrySet().iterator();
        while (entries.size() > maxEntries && it.hasNext()) {
            Map.Entry<K, Entry<V>> eldest = it.next();
            it.remove();
            evictedBySize++;
            onEvict.accept(eldest.getKey(), eldest.getValue().value);
        }
    }

    public int size() {
        return entries.size();
    }

    public int maxEntries() {
        return maxEntries;
    }

    /** Keys, least recently used first (a copy). */
    public Set<K> keys() {
        return new java.util.LinkedHashSet<>(entries.keySet());
    }

    /** Keys evicted because the map was full. */
    public long evictedBySize() {
        return evictedBySize;
    }

    /** Keys evicted because they were untouched for longer than the TTL. */
    public long evictedByAge() {
        return evictedByAge;
    }

    public long evictions() {
        return evictedBySize + evictedByAge;
    }
}
