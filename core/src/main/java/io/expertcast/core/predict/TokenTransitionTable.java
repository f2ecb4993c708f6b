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
    private final long[][] rowTotals;

    public TokenTransitionTable(ModelShape model) {
        this.layers = model.numMoeLayers();
        this.experts = model.numExperts();
        this.k = model.topK();
        this.counts = new long[layers][experts * experts];
        this.rowTotals = new long[layers][experts];
    }

    /** Counts one token following another: both [moe layer][k] ids at the given offsets. */
    public void add(int[] before, int beforeAt, int[] after, int afterAt) {
        for (int l = 0; l < layers; l++) {
            long[] c = counts[l];
            for (int a = 0; a < k; a++) {
                int from = before[beforeAt + l * k + a];
                int row = from * experts;
                for (int b = 0; b < k; b++) {
                    c[row + after[afterAt + l * k + b]]++;
                }
                rowTotals[l][from] += k;
            }
        }
    }

    /** Adds P(next = j | {@code expert}) for every j to {@code into}; nothing for an expert never seen. */
    public void addRowProbabilities(int moeLayer, int expert, double[] into) {
        long total = rowTotals[moeLayer][expert];
        if (total == 0) {
            return;
        }
        long[] c = counts[moeLayer];
        int base = expert * experts;
        for (int j = 0; j < experts; j++) {
            into[j] += c[base + j] / (double) total;
        }
    }

    /** The raw counts of a layer, row-major E x E (row = expert at token t); a copy. */
    public long[] counts(int moeLayer) {
        return counts[moeLayer].clone();
    }

    /** Share of a row's mass held by its {@code top} largest cells (Ob2's coverage); NaN for an empty row. */
    public double topShare(int moeLayer, int expert, int top) {
        long[] row = java.util.Arrays.copyOfRange(counts[moeLayer], expert * experts, (expert + 1) * experts);
        java.util.Arrays.sort(row);
        long total = 0;
        long topSum = 0;
        for (int m = 0; m < row.length; m++) {
            total += row[m];
            if (m >= row.length - top) {
                topSum += row[m];
            }
        }
        return total == 0 ? Double.NaN : topSum / (double) total;
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
