package io.expertcast.core.allocation;

import java.util.Arrays;

/**
 * Step 1 of Algorithm 1, shared by both costs ({@link TaskAllocator}'s and {@link EmulatorCostPlanner}'s):
 * the experts with work of one layer, by token count ascending, ties by lower expert id. Each entry is
 * one long (tokens << 32 | expert), sorted by a stable LSD radix sort on the count's bytes (entries are
 * added in id order), the same order as sorting the longs. Buffers are reused across calls: not
 * thread-safe.
 */
final class ExpertsByTokens {
    private long[] order = new long[0];
    private long[] swap = new long[0];
    private final int[] digitCount = new int[257];
    private int size;

    /** Empties the list, with room for {@code experts} entries. */
    void reset(int experts) {
        if (order.length < experts) {
            order = new long[experts];
            swap = new long[experts];
        }
        size = 0;
    }

    /** Adds an expert with work; experts are added in id order. */
    void add(int expert, int tokens) {
        order[size++] = ((long) tokens << 32) | expert;
    }

    int size() {
        return size;
    }

    /** The {@code i}-th expert after {@link #sort()}. */
    int expert(int i) {
        return (int) order[i];
    }

    /** Its token count. */
    int tokens(int i) {
        return (int) (order[i] >>> 32);
    }

    /** The largest token count (0 when empty), after {@link #sort()}. */
    int maxTokens() {
        return size == 0 ? 0 : tokens(size - 1);
    }

    /** Sorts by token count, ties by expert id. */
    void sort() {
        int maxTokens = 0;
        for (int i = 0; i < size; i++) {
            maxTokens = Math.max(maxTokens, (int) (order[i] >>> 32));
        }
        long[] from = order;
        long[] to = swap;
        for (int shift = 32; shift < 64 && (maxTokens >>> (shift - 32)) != 0; shift += 8) {
            Arrays.fill(digitCount, 0);
            for (int i = 0; i < size; i++) {
                digitCount[(int) (from[i] >>> shift) & 0xFF]++;
            }
            for (int d = 0, sum = 0; d < 256; d++) {
                int c = digitCount[d];
                digitCount[d] = sum;
                sum += c;
            }
            for (int i = 0; i < size; i++) {
                long v = from[i];
                to[digitCount[(int) (v >>> shift) & 0xFF]++] = v;
            }
            long[] t = from;
            from = to;
            to = t;
        }
        if (from != order) {
            swap = order;
            order = from;
        }
    }
}
