package io.expertcast.core.predict;

import java.util.Arrays;

/**
 * The experts a request's decode phase is predicted to select, per MoE layer, best first, with the
 * prefill counts that ranked them (Insight 1). Scoring a real decode step against the plan is the
 * one place recall@n is computed, for the offline evaluator and the live predictor alike.
 */
public final class DecodePlan {
    private final int n;
    private final int topK;
    private final int[][] experts;
    private final int[][] scores;

    /**
     * @param experts per MoE layer the planned experts (at most n, distinct)
     * @param scores  per MoE layer the prefill count of each planned expert
     */
    public DecodePlan(int n, int topK, int[][] experts, int[][] scores) {
        if (experts.length != scores.length) {
            throw new IllegalArgumentException("experts and scores cover different layers");
        }
        for (int layer = 0; layer < experts.length; layer++) {
            if (experts[layer].length > n || experts[layer].length != scores[layer].length) {
                throw new IllegalArgumentException("layer " + layer + " plans " + experts[layer].length
                        + " experts with " + scores[layer].length + " scores, n = " + n);
            }
        }
        this.n = n;
        this.topK = topK;
        this.experts = deepCopy(experts);
        this.scores = deepCopy(scores);
    }

    public int n() {
        return n;
    }

    public int topK() {
        return topK;
    }

    public int numMoeLayers() {
        return experts.length;
    }

    /** Planned experts of a MoE layer, best first. */
    public int[] experts(int moeLayer) {
        return experts[moeLayer].clone();
    }

    /** Prefill counts of {@link #experts(int)}, same order. */
    public int[] scores(int moeLayer) {
        return scores[moeLayer].clone();
    }

    /**
     * Hits per MoE layer of one decode token, ids packed [moe layer][k]: how many distinct experts of
     * the layer's row are in the plan (a row is a set).
     */
    public int[] hits(int[] decodeTokenIds) {
        if (decodeTokenIds.length != experts.length * topK) {
            throw new IllegalArgumentException("a decode token has layers x k = " + experts.length * topK
                    + " ids, got " + decodeTokenIds.length);
        }
        int[] hits = new int[experts.length];
        for (int layer = 0; layer < experts.length; layer++) {
            int base = layer * topK;
            for (int slot = 0; slot < topK; slot++) {
                int expert = decodeTokenIds[base + slot];
                if (!PrefillHeatmap.seenEarlierInRow(decodeTokenIds, base, slot, expert)
                        && contains(experts[layer], expert)) {
                    hits[layer]++;
                }
            }
        }
        return hits;
    }

    /** Scores one decode token into {@code recall}: one sample per MoE layer. */
    public void score(int[] decodeTokenIds, RecallAtN recall) {
        int[] hits = hits(decodeTokenIds);
        for (int layer = 0; layer < hits.length; layer++) {
            recall.addSample(hits[layer], topK, experts[layer].length);
        }
    }

    private static boolean contains(int[] values, int value) {
        for (int v : values) {
            if (v == value) {
                return true;
            }
        }
        return false;
    }

    private static int[][] deepCopy(int[][] a) {
        int[][] copy = new int[a.length][];
        for (int i = 0; i < a.length; i++) {
            copy[i] = a[i].clone();
        }
        return copy;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DecodePlan other && n == other.n && topK == other.topK
                && Arrays.deepEquals(experts, other.experts) && Arrays.deepEquals(scores, other.scores);
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(experts) * 31 + n;
    }

    @Override
    public String toString() {
        return "DecodePlan[n=" + n + ", experts=" + Arrays.deepToString(experts) + "]";
    }
}
