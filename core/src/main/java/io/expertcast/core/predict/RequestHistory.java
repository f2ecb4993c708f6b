package io.expertcast.core.predict;

import java.util.Arrays;

/**
 * Insight 1 (a request keeps reusing its experts): one request's own selections so far, per MoE layer x
 * expert: plain counts, and counts decayed with a half-life of {@link BlendedPredictor#HALF_LIFE_TOKENS}
 * tokens, which the blended next-token predictor reads, with each layer's decayed total kept as the cells
 * change. Every slot counts (a row listing an expert twice counts it twice), as the offline evaluation does.
 *
 * <p>The decay is lazy: a token adds the current {@link #decayScale()} (which grows by 2^(1/H) per token)
 * to its experts' cells instead of multiplying every earlier cell by 2^(-1/H), so a token costs its
 * k x layers adds, not layers x experts multiplications. The decayed cells are therefore held in a unit
 * that changes over time, the same for every cell: a cell divided by {@link #decayScale()} is the decayed
 * count. Readers that normalise by a sum (every predictor) use the cells as they are.
 *
 * <p>One array per layer (not one flat array): the predictor's per-expert loops then index from 0, which
 * C2 vectorizes.
 */
public final class RequestHistory {
    private static final double GROWTH = Math.pow(2, 1 / BlendedPredictor.HALF_LIFE_TOKENS);
    private static final double RESCALE_AT = 1e100;

    private final int layers;
    private final int experts;
    private final int k;
    private final double[][] counts;   // integers, held as doubles: the predictor's per-expert loop then mixes no int
    private final double[][] decayed;  // decayed counts x scale
    private final double[] totals;     // per layer: the sum of its decayed cells, as they were added
    private double scale;
    private int tokens;

    public RequestHistory(int layers, int experts, int k) {
        this(layers, experts, k, new int[layers * experts], new double[layers * experts], null, 1, 0);
    }

    private RequestHistory(int layers, int experts, int k, int[] flatCounts, double[] flatDecayed, double[] totals,
                           double scale, int tokens) {
        if (flatCounts.length != layers * experts || flatDecayed.length != flatCounts.length) {
            throw new IllegalArgumentException("history of " + flatCounts.length + " cells, expected "
                    + layers * experts);
        }
        if (!(scale > 0) || Double.isInfinite(scale)) {
            throw new IllegalArgumentException("decay scale must be positive and finite, got " + scale);
        }
        if (totals != null && totals.length != layers) {
            throw new IllegalArgumentException("history of " + totals.length + " layer totals, expected " + layers);
        }
        this.layers = layers;
        this.experts = experts;
        this.k = k;
        this.counts = new double[layers][];
        this.decayed = new double[layers][];
        for (int l = 0; l < layers; l++) {
            counts[l] = new double[experts];
            for (int e = 0; e < experts; e++) {
                counts[l][e] = flatCounts[l * experts + e];
            }
            decayed[l] = Arrays.copyOfRange(flatDecayed, l * experts, (l + 1) * experts);
        }
        this.totals = totals != null ? totals.clone() : new double[layers];
        if (totals == null) {
            sumTotals();
        }
        this.scale = scale;
        this.tokens = tokens;
    }

    /**
     * Restores a history from {@link #counts()}, {@link #decayed()}, {@link #decayedTotals()},
     * {@link #decayScale()} and {@link #tokens()} (e.g. from a state store): the same history, bit for bit.
     * {@code decayedTotals} null (a state written before they were kept): summed from the cells.
     */
    public static RequestHistory of(int layers, int experts, int k, int[] counts, double[] decayed,
                                    double[] decayedTotals, double decayScale, int tokens) {
        return new RequestHistory(layers, experts, k, counts, decayed, decayedTotals, decayScale, tokens);
    }

    /** One token, ids [moe layer][k] from {@code at}: everything earlier decays by one token, then it counts. */
    public void observe(int[] ids, int at) {
        scale *= GROWTH;
        if (scale > RESCALE_AT) {
            for (double[] row : decayed) {
                for (int e = 0; e < experts; e++) {
                    row[e] /= scale;
                }
            }
            scale = 1;
            sumTotals();
        }
        for (int l = 0; l < layers; l++) {
            double[] c = counts[l];
            double[] d = decayed[l];
            double total = totals[l];
            for (int a = 0; a < k; a++) {
                int e = ids[at + l * k + a];
                c[e]++;
                d[e] += scale;
                total += scale;
            }
            totals[l] = total;
        }
        tokens++;
    }

    /** Each layer's total, summed in expert order (at a restore from old state and after a rescale). */
    private void sumTotals() {
        for (int l = 0; l < layers; l++) {
            double s = 0;
            for (double v : decayed[l]) {
                s += v;
            }
            totals[l] = s;
        }
    }

    public int count(int layer, int expert) {
        return (int) counts[layer][expert];
    }

    /** The decayed selections of one layer x {@link #decayScale()} (a unit common to all cells), a copy. */
    public double[] decayed(int layer) {
        return decayed[layer].clone();
    }

    /** The sum of one layer's decayed cells (same unit), kept as they were added. */
    public double decayedTotal(int layer) {
        return totals[layer];
    }

    /** The counts of one layer, as doubles. */
    public double[] countsOf(int layer) {
        return counts[layer].clone();
    }

    /** The live counts of one layer, not a copy: for {@link NextTokenPredictor}, which only reads. */
    double[] countRow(int layer) {
        return counts[layer];
    }

    /** The live decayed cells of one layer (x {@link #decayScale()}), not a copy: read only. */
    double[] decayedRow(int layer) {
        return decayed[layer];
    }

    /** Tokens observed. */
    public int tokens() {
        return tokens;
    }

    /** Experts per MoE layer each token selects. */
    public int topK() {
        return k;
    }

    /** All counts, [moe layer][expert] flat, a copy. */
    public int[] counts() {
        int[] flat = new int[layers * experts];
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                flat[l * experts + e] = (int) counts[l][e];
            }
        }
        return flat;
    }

    /** All decayed cells, [moe layer][expert] flat x {@link #decayScale()}, a copy. */
    public double[] decayed() {
        double[] flat = new double[layers * experts];
        for (int l = 0; l < layers; l++) {
            System.arraycopy(decayed[l], 0, flat, l * experts, experts);
        }
        return flat;
    }

    /** Every layer's {@link #decayedTotal}, a copy. */
    public double[] decayedTotals() {
        return totals.clone();
    }

    /** The unit of the decayed cells: a cell / this = the decayed count. */
    public double decayScale() {
        return scale;
    }
}
