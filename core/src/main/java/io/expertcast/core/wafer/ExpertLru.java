package io.expertcast.core.wafer;

import java.util.Arrays;

/**
 * A die's store of expert-weight copies: its LLC (least-recently-used eviction), or the part of its
 * HBM not taken by the experts it is home to, where the PDU's copy-on-read lands. The HBM pool keeps
 * what it holds and takes a new copy only while it has room: a die meets its experts layer after
 * layer in the same cyclic order every token, and under a cyclic scan larger than the pool LRU
 * evicts exactly the copy needed next (every copy would be written and none read); moving copies
 * over time is placement's job (Insight 6), not the PDU's. Entries are (MoE layer, expert) keys of
 * one size (one routed expert's weights), so the capacity is a count. Intrusive doubly linked list
 * over the key space: no allocation per access.
 */
final class ExpertLru {
    private final boolean evicts;
    private final int capacity;
    private final int[] prev;
    private final int[] next;
    private final boolean[] present;
    private int head = -1; // most recent
    private int tail = -1; // least recent
    private int size;

    /**
     * @param keys     layers x experts
     * @param capacity entries that fit (0: never holds anything)
     * @param evicts   true: least-recently-used eviction; false: a full store takes nothing new
     */
    ExpertLru(int keys, long capacity, boolean evicts) {
        this.evicts = evicts;
        this.capacity = (int) Math.max(0, Math.min(capacity, keys));
        this.prev = new int[keys];
        this.next = new int[keys];
        this.present = new boolean[keys];
        Arrays.fill(prev, -1);
        Arrays.fill(next, -1);
    }

    int capacity() { return capacity; }
    int size() { return size; }

    boolean contains(int key) {
        return present[key];
    }

    /** True (and marks it most recently used) if the key is held. */
    boolean touch(int key) {
        if (!present[key]) {
            return false;
        }
        unlink(key);
        linkFirst(key);
        return true;
    }

    /** Holds {@code key}, evicting the least recently used entry when full (if it evicts); false if it is not held. */
    boolean insert(int key) {
        if (capacity == 0) {
            return false;
        }
        if (present[key]) {
            touch(key);
            return true;
        }
        if (size == capacity) {
            if (!evicts) {
                return false;
            }
            int victim = tail;
            unlink(victim);
            present[victim] = false;
            size--;
        }
        present[key] = true;
        linkFirst(key);
        size++;
        return true;
    }

    /** Whether the store evicts (the LLC) or keeps what it took (the HBM copy pool). */
    boolean evicts() {
        return evicts;
    }

    /** The keys held, most recently used first (what a restart needs to rebuild the same store). */
    int[] keysMostRecentFirst() {
        int[] keys = new int[size];
        int i = 0;
        for (int k = head; k >= 0; k = next[k]) {
            keys[i++] = k;
        }
        return keys;
    }

    /** Empties the store, then holds {@code keys} (most recently used first), as {@link #keysMostRecentFirst} gave them. */
    void load(int[] keys) {
        java.util.Arrays.fill(prev, -1);
        java.util.Arrays.fill(next, -1);
        java.util.Arrays.fill(present, false);
        head = -1;
        tail = -1;
        size = 0;
        for (int i = keys.length - 1; i >= 0; i--) {
            int k = keys[i];
            if (k < 0 || k >= present.length || present[k] || size == capacity) {
                throw new IllegalArgumentException("stored cache content does not fit: key " + k + " of "
                        + present.length + ", " + size + " of " + capacity + " held");
            }
            present[k] = true;
            linkFirst(k);
            size++;
        }
    }

    private void unlink(int key) {
        int p = prev[key];
        int n = next[key];
        if (p >= 0) next[p] = n; else head = n;
        if (n >= 0) prev[n] = p; else tail = p;
        prev[key] = -1;
        next[key] = -1;
    }

    private void linkFirst(int key) {
        next[key] = head;
        prev[key] = -1;
        if (head >= 0) prev[head] = key;
        head = key;
        if (tail < 0) tail = key;
    }
}
