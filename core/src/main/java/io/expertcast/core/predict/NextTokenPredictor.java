package io.expertcast.core.predict;

/**
 * The blended next-token prediction of every MoE layer for one decode step (Insights 1-2,
 * {@link BlendedPredictor#nextTokenScores} then {@link BlendedPredictor#top}), made at the speed of a
 * stream: it runs once per request and decode step over 58 x 256 experts for DeepSeek-V3. Every
 * prediction and every score is bit-identical to the reference formulas (NextTokenPredictorTest):
 * <ul>
 *   <li>heat: the published rows of the experts just selected ({@link TransitionRows}), summed in slot
 *       order into scratch held here, not allocated per layer;</li>
 *   <li>totals: each is still one left-to-right sum over the experts, but four layers' sums run side by
 *       side, so the adds of one layer do not wait on each other's latency;</li>
 *   <li>popularity total: integer counts, so finished requests' total + the request's own is the exact
 *       sum ({@link LayerPopularity}); otherwise summed as the reference does;</li>
 *   <li>scores: the reference expression, its zero-total tests taken out of the loop;</li>
 *   <li>top-n: {@link Ranking#top}'s comparisons, into scratch.</li>
 * </ul>
 * Not thread-safe: one per stream processor (or evaluation).
 */
public final class NextTokenPredictor {
    private static final int SIDE_BY_SIDE = 4;

    private final int layers;
    private final int experts;
    private final int k;
    // Every per-expert loop indexes its arrays from 0 (a layer's values copied out where needed): with an
    // offset in the index, C2 (JDK 17) does not vectorize the loop, about 4x slower for the divisions.
    private final double[][] heat;        // [layer][expert]
    private final double[] heatTotals;    // [layer]
    private final double[] decayedTotals; // [layer]
    private final int[] heatOffsets;      // [layer] -> 0
    private final double[][] decayedRows; // [layer] -> the request's decayed selections, all layers
    private final int[] decayedOffsets;   // [layer] -> layer x experts
    private final double[] decayed;       // [expert], one layer at a time
    private final int[] own;              // [expert], one layer at a time
    private final double[] popularity;    // [expert], one layer at a time
    private final double[] scores;        // [expert], one layer at a time
    private final int[] best;             // [experts]
    private final double[] bestScores;    // [experts]

    public NextTokenPredictor(int layers, int experts, int k) {
        if (layers <= 0 || experts <= 0 || k <= 0) {
            throw new IllegalArgumentException("need positive layers, experts and k, got " + layers + ", " + experts
                    + ", " + k);
        }
        this.layers = layers;
        this.experts = experts;
        this.k = k;
        this.heat = new double[layers][experts];
        this.decayed = new double[experts];
        this.own = new int[experts];
        this.heatTotals = new double[layers];
        this.decayedTotals = new double[layers];
        this.heatOffsets = new int[layers];
        this.decayedRows = new double[layers][];
        this.decayedOffsets = new int[layers];
        for (int l = 0; l < layers; l++) {
            decayedOffsets[l] = l * experts;
        }
        this.popularity = new double[experts];
        this.scores = new double[experts];
        this.best = new int[experts];
        this.bestScores = new double[experts];
    }

    /**
     * Per MoE layer l, the n best experts for the token after {@code current} and their scores:
     * {@code nextTokenScores(heat, history.decayed(l), popularity[l] + history's counts at l)} with heat =
     * the sum over current's k experts at l of their rows in {@code tables[l]}
     * ({@link TransitionHeatmap#addTopRowProbabilities}, {@link BlendedPredictor#HEAT_ROW_WIDTH} wide).
     *
     * @param tables     per layer, the token->token rows
     * @param popularity per layer, global counts (the request's own counts are added here)
     * @param history    the request's own selections
     * @param current    the request's last token, ids [layer][k]; null: none yet (no heat)
     * @param n          experts per layer
     * @param expertsOut per layer an array of min(n, experts) ids, filled best first (ties: lower id)
     * @param scoresOut  per layer an array of min(n, experts), filled with the ids' scores
     */
    public void predict(TransitionRows[] tables, LayerPopularity[] popularity, RequestHistory history,
                        int[] current, int n, int[][] expertsOut, double[][] scoresOut) {
        for (int l = 0; l < layers; l++) {
            addHeat(tables[l], l, current);
        }
        totals(heat, heatOffsets, heatTotals);
        java.util.Arrays.fill(decayedRows, history.decayedCells());
        totals(decayedRows, decayedOffsets, decayedTotals);
        int m = Math.min(n, experts);
        for (int l = 0; l < layers; l++) {
            score(l, popularity[l], history);
            Ranking.topInto(scores, 0, experts, m, best, bestScores);
            System.arraycopy(best, 0, expertsOut[l], 0, m);
            System.arraycopy(bestScores, 0, scoresOut[l], 0, m);
        }
    }

    /** heat at layer l: current's rows in slot order (the sum starts at +0.0, so it is never -0.0). */
    private void addHeat(TransitionRows table, int l, int[] current) {
        double[] into = heat[l];
        java.util.Arrays.fill(into, 0.0);
        if (current == null) {
            return;
        }
        int slots = l * k;
        for (int b = 0; b < k; b++) {
            table.addRow(current[slots + b], into);
        }
    }

    /**
     * Per layer l, the sum of {@code values[l][at[l] .. at[l] + experts)} from expert 0 up, as
     * {@code BlendedPredictor.sum} adds them; {@value #SIDE_BY_SIDE} layers at a time, each its own chain,
     * so the same sums come out faster. Heat has one array per layer (offsets 0), the request's decayed
     * selections one array for all layers (offsets l x experts).
     */
    private void totals(double[][] values, int[] at, double[] out) {
        int l = 0;
        for (; l + SIDE_BY_SIDE <= layers; l += SIDE_BY_SIDE) {
            double[] v0 = values[l];
            double[] v1 = values[l + 1];
            double[] v2 = values[l + 2];
            double[] v3 = values[l + 3];
            int a0 = at[l];
            int a1 = at[l + 1];
            int a2 = at[l + 2];
            int a3 = at[l + 3];
            double s0 = 0;
            double s1 = 0;
            double s2 = 0;
            double s3 = 0;
            for (int e = 0; e < experts; e++) {
                s0 += v0[a0 + e];
                s1 += v1[a1 + e];
                s2 += v2[a2 + e];
                s3 += v3[a3 + e];
            }
            out[l] = s0;
            out[l + 1] = s1;
            out[l + 2] = s2;
            out[l + 3] = s3;
        }
        for (; l < layers; l++) {
            double s = 0;
            double[] v = values[l];
            for (int e = at[l]; e < at[l] + experts; e++) {
                s += v[e];
            }
            out[l] = s;
        }
    }

    /** The blended scores of layer l into {@link #scores}: {@link BlendedPredictor#nextTokenScores}'s expression. */
    private void score(int l, LayerPopularity global, RequestHistory history) {
        int at = l * experts;
        double[] g = global.counts();
        System.arraycopy(history.countCells(), at, own, 0, experts);
        System.arraycopy(history.decayedCells(), at, decayed, 0, experts);
        long ownTotal = 0;
        int signs = 0;
        for (int e = 0; e < experts; e++) {
            ownTotal += own[e];
            signs |= own[e];
        }
        for (int e = 0; e < experts; e++) {
            popularity[e] = g[e] + own[e];
        }
        double popTotal;
        if (signs >= 0 && global.exactWith(ownTotal)) {
            popTotal = global.total() + ownTotal; // integers below 2^53: the sum in any order
        } else {
            popTotal = 0;
            for (int e = 0; e < experts; e++) {
                popTotal += popularity[e];
            }
        }
        double[] h = heat[l];
        double heatTotal = heatTotals[l];
        double decayedTotal = decayedTotals[l];
        if (heatTotal != 0 && decayedTotal != 0 && popTotal != 0) {
            for (int e = 0; e < experts; e++) {
                scores[e] = BlendedPredictor.W_HEATMAP * (h[e] / heatTotal)
                        + BlendedPredictor.W_RECENT * (decayed[e] / decayedTotal)
                        + BlendedPredictor.W_POPULARITY * (popularity[e] / popTotal);
            }
        } else {
            for (int e = 0; e < experts; e++) {
                scores[e] = BlendedPredictor.W_HEATMAP * (heatTotal == 0 ? 0 : h[e] / heatTotal)
                        + BlendedPredictor.W_RECENT * (decayedTotal == 0 ? 0 : decayed[e] / decayedTotal)
                        + BlendedPredictor.W_POPULARITY * (popTotal == 0 ? 0 : popularity[e] / popTotal);
            }
        }
    }
}
