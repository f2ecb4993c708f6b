package io.expertcast.core.predict;

import java.util.Arrays;

/**
 * Per MoE layer x expert, how many of a request's prefill tokens selected the expert (Insight 1,
 * Ob3: these counts rank the experts the request's decode steps will select).
 */
public final class PrefillHeatmap {
    private final int numMoeLayers;
    private final int numExperts;
    private final int topK;
    private final int[] counts;
    private int tokens;

    public PrefillHeatmap(int numMoeLayers, int numExperts, int topK) {
        if (numMoeLayers <= 0 || numExperts <= 0 || topK <= 0) {
            throw new IllegalArgumentException("invalid heatmap shape " + numMoeLayers + " x " + numExperts
                    + " (k=" + topK + ")");
        }
        this.numMoeLayers = numMoeLayers;
        this.numExperts = numExperts;
        this.topK = topK;
        this.counts = new int[Math.multiplyExact(numMoeLayers, numExperts)];
    }

    /** Restores a heatmap from {@link #counts()} and {@link #tokens()} (e.g. from a state store). */
    public static PrefillHeatmap of(int numMoeLayers, int numExperts, int topK, int[] counts, int tokens) {
        PrefillHeatmap heatmap = new PrefillHeatmap(numMoeLayers, numExperts, topK);
        if (counts.length != heatmap.counts.length) {
            throw new IllegalArgumentException("heatmap has " + counts.length + " counts, expected "
                    + heatmap.counts.length);
        }
        System.arraycopy(counts, 0, heatmap.counts, 0, counts.length);
        heatmap.tokens = tokens;
        return heatmap;
    }

    /**
     * Counts the tokens of one prefill chunk, ids packed [token][moe layer][k]. A token that lists
     * the same expert twice in one row counts once (a row is a set).
     */
    public void add(int[] packedIds) {
        int perToken = numMoeLayers * topK;
        if (packedIds.length % perToken != 0) {
            throw new IllegalArgumentException(packedIds.length + " ids are not a multiple of layers x k = "
                    + perToken);
        }
        int chunkTokens = packedIds.length / perToken;
        for (int t = 0; t < chunkTokens; t++) {
            for (int layer = 0; layer < numMoeLayers; layer++) {
                int base = (t * numMoeLayers + layer) * topK;
                for (int slot = 0; slot < topK; slot++) {
                    int expert = packedIds[base + slot];
                    if (expert < 0 || expert >= numExperts) {
                        throw new IllegalArgumentException("expert id " + expert + " out of range [0, "
                                + numExperts + ")");
                    }
                    if (!seenEarlierInRow(packedIds, base, slot, expert)) {
                        counts[layer * numExperts + expert]++;
                    }
                }
            }
        }
        tokens += chunkTokens;
    }

    static boolean seenEarlierInRow(int[] ids, int base, int slot, int expert) {
        for (int s = 0; s < slot; s++) {
            if (ids[base + s] == expert) {
                return true;
            }
        }
        return false;
    }

    public int count(int moeLayer, int expert) {
        return counts[moeLayer * numExperts + expert];
    }

    /** Prefill tokens counted so far. */
    public int tokens() {
        return tokens;
    }

    public int numMoeLayers() {
        return numMoeLayers;
    }

    public int numExperts() {
        return numExperts;
    }

    public int topK() {
        return topK;
    }

    /** A copy of the counts, laid out [moe layer][expert]. */
    public int[] counts() {
        return counts.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PrefillHeatmap other && numMoeLayers == other.numMoeLayers
                && numExperts == other.numExperts && topK == other.topK && tokens == other.tokens
                && Arrays.equals(counts, other.counts);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(counts) + tokens;
    }
}
