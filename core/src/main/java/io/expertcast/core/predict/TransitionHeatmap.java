package io.expertcast.core.predict;

import java.util.Arrays;

/**
 * The paper's token-level heatmap (Ob2, Insight 2): per MoE layer, how often expert j was selected
 * by token t+1 of a request after expert i was selected by its token t at the same layer. The
 * predictor of the case study reads, for every expert the current token selected, its row and keeps
 * the top-n successors; the union is the set of experts forecast for the next token, which the PDU
 * copies into local HBM/LLC on a remote read (section "Predictor" in paper-notes.md).
 *
 * <p>Pure and deterministic: ties rank the lower expert id first; a successor never observed (count
 * 0) is never predicted. Counts are ints (2^31 transitions per cell is far beyond any trace). Not
 * thread-safe.
 */
public final class TransitionHeatmap {
    private final int layers;
    private final int experts;
    private final int[][] counts; // per layer: [from * experts + to]
    private final int[] topScratch;

    public TransitionHeatmap(int layers, int experts) {
        if (layers <= 0 || experts <= 0) {
            throw new IllegalArgumentException("heatmap needs positive layers and experts, got " + layers + ", " + experts);
        }
        this.layers = layers;
        this.experts = experts;
        this.counts = new int[layers][experts * experts];
        this.topScratch = new int[experts];
    }

    public int layers() { return layers; }
    public int experts() { return experts; }

    /** Records one transition at {@code layer}: expert {@code from} at token t, {@code to} at t+1. */
    public void observe(int layer, int from, int to) {
        counts[layer][from * experts + to]++;
    }

    /**
     * Records every transition between two consecutive tokens of one request: {@code previous} and
     * {@code next} hold [moe layer][k] ids starting at the given offsets (k x k pairs per layer).
     */
    public void observeToken(int[] previous, int previousAt, int[] next, int nextAt, int k) {
        for (int l = 0; l < layers; l++) {
            int[] row = counts[l];
            for (int a = 0; a < k; a++) {
                int base = previous[previousAt + l * k + a] * experts;
                for (int b = 0; b < k; b++) {
                    row[base + next[nextAt + l * k + b]]++;
                }
            }
        }
    }

    public int count(int layer, int from, int to) {
        return counts[layer][from * experts + to];
    }

    /**
     * The top-{@code n} successors of {@code from} at {@code layer} into {@code out}, most frequent
     * first (ties: lower id), only those seen at least once; returns how many were written.
     */
    public int topSuccessors(int layer, int from, int n, int[] out) {
        int[] row = counts[layer];
        int base = from * experts;
        int kept = 0;
        for (int j = 0; j < experts; j++) {
            int c = row[base + j];
            if (c == 0) {
                continue;
            }
            if (kept < n) {
                int i = kept++;
                while (i > 0 && row[base + out[i - 1]] < c) {
                    out[i] = out[i - 1];
                    i--;
                }
                out[i] = j;
            } else if (row[base + out[n - 1]] < c) {
                int i = n - 1;
                while (i > 0 && row[base + out[i - 1]] < c) {
                    out[i] = out[i - 1];
                    i--;
                }
                out[i] = j;
            }
        }
        return kept;
    }

    /**
     * The paper's prediction for the next token at {@code layer}: the union of the top-{@code n}
     * rows of the experts marked in {@code selected}, marked into {@code predicted} (not cleared
     * first, so several tokens' predictions can be unioned). Returns how many new experts it marked.
     */
    public int predictInto(int layer, boolean[] selected, int n, boolean[] predicted) {
        int added = 0;
        int[] top = n <= topScratch.length ? topScratch : new int[n];
        for (int from = 0; from < experts; from++) {
            if (!selected[from]) {
                continue;
            }
            int m = topSuccessors(layer, from, n, top);
            for (int i = 0; i < m; i++) {
                if (!predicted[top[i]]) {
                    predicted[top[i]] = true;
                    added++;
                }
            }
        }
        return added;
    }

    /** Total transitions recorded at {@code layer}. */
    public long total(int layer) {
        long sum = 0;
        for (int c : counts[layer]) {
            sum += c;
        }
        return sum;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TransitionHeatmap h && Arrays.deepEquals(h.counts, counts);
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(counts);
    }
}
