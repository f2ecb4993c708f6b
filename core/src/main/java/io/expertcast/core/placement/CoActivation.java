package io.expertcast.core.placement;

/**
 * Ob5 / Insight 5, the one definition of a co-activation: two different experts selected by the same
 * token at the same MoE layer, counted once per token as an unordered pair. Counts one layer, as
 * {@code count[i x experts + j]} for i &lt; j, and remembers which pairs it has seen, so that a pass's
 * few hundred pairs are read and cleared without scanning the 32,640 cells of a 256-expert layer.
 * {@code analyze --pairs-out} ({@link PairCountFile}) and the stream allocator count with it.
 */
public final class CoActivation {
    private final int experts;
    private final long[] counts;
    /** Cells with a count, in the order first seen. */
    private final int[] seen;
    private int distinct;

    public CoActivation(int experts) {
        if (experts < 2 || (long) experts * experts > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("co-activations need 2.." + (int) Math.sqrt(Integer.MAX_VALUE)
                    + " experts, got " + experts);
        }
        this.experts = experts;
        this.counts = new long[experts * experts];
        this.seen = new int[experts * (experts - 1) / 2];
    }

    /** Adds the pairs among one token's {@code k} expert ids {@code ids[from..from+k)}. */
    public void addToken(int[] ids, int from, int k) {
        for (int a = 0; a < k; a++) {
            int i = ids[from + a];
            for (int b = a + 1; b < k; b++) {
                int j = ids[from + b];
                if (i == j) {
                    continue; // one expert twice (a malformed top-k) is no pair
                }
                int cell = Math.min(i, j) * experts + Math.max(i, j);
                if (counts[cell]++ == 0) {
                    seen[distinct++] = cell;
                }
            }
        }
    }

    /** Adds {@code count} co-activations of experts i and j (i != j), as a file read back gives them. */
    public void add(int i, int j, long count) {
        int cell = Math.min(i, j) * experts + Math.max(i, j);
        if (count > 0 && counts[cell] == 0) {
            seen[distinct++] = cell;
        }
        counts[cell] += count;
    }

    public int experts() { return experts; }

    /** Distinct pairs counted so far. */
    public int distinctPairs() { return distinct; }

    /** The cell (i x experts + j, i &lt; j) of the n-th distinct pair, in the order first seen. */
    public int cell(int n) { return seen[n]; }

    public long count(int cell) { return counts[cell]; }

    public long count(int i, int j) { return i == j ? 0 : counts[Math.min(i, j) * experts + Math.max(i, j)]; }

    /** Forgets every count (only the cells seen are touched). */
    public void clear() {
        for (int n = 0; n < distinct; n++) {
            counts[seen[n]] = 0;
        }
        distinct = 0;
    }
}
