package io.expertcast.core.predict;

import io.expertcast.core.model.ModelShape;

/**
 * The paper's cross-token heatmap (Insight 2, Ob2): per MoE layer, counts of (expert i at token t,
 * expert j at token t + 1) of the same request, all k x k pairs. Its top rows are the predictor the
 * paper's Global CP runs: for each expert a step selected, the n most likely next experts.
 */
public final class TokenTransitionTable {
    private final int layers;
    private final int experts;
    private final int k;
    private final long[][] counts;

    public TokenTransitionTable(ModelShape model) {
        this.layers = model.numMoeLayers();
        this.experts = model.numExperts();
        this.k = model.topK();
        this.counts = new long[layers][experts * experts];
    }

    /** Counts one token following another: both [moe layer][k] ids at the given offsets. */
    public void add(int[] before, int beforeAt, int[] after, int afterAt) {
        for (int l = 0; l < layers; l++) {
            long[] c = counts[l];
            for (int a = 0; a < k; a++) {
                int row = before[beforeAt + l * k + a] * experts;
                for (int b = 0; b < k; b++) {
                    c[row + after[afterAt + l * k + b]]++;
                }
            }
        }
    }

    /** The {@code n} most frequent successors of {@code expert} at {@code moeLayer} (ties: lower id); fewer if unseen. */
    public int[] successors(int moeLayer, int expert, int n) {
        long[] c = counts[moeLayer];
        double[] row = new double[experts];
        int seen = 0;
        for (int j = 0; j < experts; j++) {
            row[j] = c[expert * experts + j];
            if (row[j] > 0) {
                seen++;
            }
        }
        return Ranking.top(row, Math.min(n, seen));
    }
}
