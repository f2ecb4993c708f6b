package io.expertcast.core.predict;

import java.util.Arrays;

/**
 * One request's own selections so far (Insight 1: a request keeps reusing its experts), per MoE layer
 * x expert: plain counts, and counts decayed with a half-life of {@link BlendedPredictor#HALF_LIFE_TOKENS}
 * tokens, which the blended next-token predictor reads. Every slot counts (a row listing an expert
 * twice counts it twice), as the offline evaluation does.
 *
 * <p>The decay is lazy, as {@link TransitionHeatmap}'s: a token adds the current {@link #decayScale()}
 * (which grows by 2^(1/H) per token) to its experts' cells instead of multiplying every earlier cell by
 * 2^(-1/H), so a token costs its k x layers adds, not layers x experts multiplications (58 x 256 for
 * DeepSeek-V3, at every prefill token and decode step). The decayed cells are therefore held in a unit
 * that changes over time, the same for every cell: a cell divided by {@link #decayScale()} is the decayed
 * count. Readers that normalise by a sum (every predictor) use the cells as they are.
 */
public final class RequestHistory {
    private static final double GROWTH = Math.pow(2, 1 / BlendedPredictor.HALF_LIFE_TOKENS);
    private static final double RESCALE_AT = 1e100;

    private final int layers;
    private final int experts;
    private final int k;
    private final int[] counts;
    private final double[] decayed; // decayed counts x scale
    private double scale;
    private int tokens;

    public RequestHistory(int layers, int experts, int k) {
        this(layers, experts, k, new int[layers * experts], new double[layers * experts], 1, 0);
    }

    private RequestHistory(int layers, int experts, int k, int[] counts, double[] decayed, double scale, int tokens) {
        if (counts.length != layers * experts || decayed.length != counts.length) {
            throw new IllegalArgumentException("history of " + counts.length + " cells, expected " + layers * experts);
        }
        if (!(scale > 0) || Double.isInfinite(scale)) {
            throw new IllegalArgumentException("decay scale must be positive and finite, got " + scale);
        }
        this.layers = layers;
        this.experts = experts;
        this.k = k;
        this.counts = counts;
        this.decayed = decayed;
        this.scale = scale;
        this.tokens = tokens;
    }

    /**
     * Restores a history from {@link #counts()}, {@link #decayed()}, {@link #decayScale()} and
     * {@link #tokens()} (e.g. from a state store): the same history, bit for bit.
     */
    public static RequestHistory of(int layers, int experts, int k, int[] counts, double[] decayed, double decayScale,
                                    int tokens) {
        return new RequestHistory(layers, experts, k, counts.clone(), decayed.clone(), decayScale, tokens);
    }

    /** One token, ids [moe layer][k] from {@code at}: everything earlier decays by one token, then it counts. */
    public void observe(int[] ids, int at) {
        scale *= GROWTH;
        if (scale > RESCALE_AT) {
            for (int i = 0; i < decayed.length; i++) {
                decayed[i] /= scale;
            }
            scale = 1;
        }
        for (int l = 0; l < layers; l++) {
            for (int a = 0; a < k; a++) {
                int cell = l * experts + ids[at + l * k + a];
                counts[cell]++;
                decayed[cell] += scale;
            }
        }
        tokens++;
    }

    public int count(int layer, int expert) {
        return counts[layer * experts + expert];
    }

    /** The decayed selections of one layer x {@link #decayScale()} (a unit common to all cells), a copy. */
    public double[] decayed(int layer) {
        return Arrays.copyOfRange(decayed, layer * experts, (layer + 1) * experts);
    }

    /** The counts of one layer, as doubles. */
    public double[] countsOf(int layer) {
        double[] c = new double[experts];
        for (int e = 0; e < experts; e++) {
            c[e] = counts[layer * experts + e];
        }
        return c;
    }

    /** The live counts, [moe layer][expert], not a copy: for {@link NextTokenPredictor}, which only reads. */
    int[] countCells() {
        return counts;
    }

    /**
     * The live decayed cells, [moe layer][expert] x {@link #decayScale()}, not a copy: for
     * {@link NextTokenPredictor}, which only reads.
     */
    double[] decayedCells() {
        return decayed;
    }

    /** Tokens observed. */
    public int tokens() {
        return tokens;
    }

    /** All counts, [moe layer][expert], a copy. */
    public int[] counts() {
        return counts.clone();
    }

    /** All decayed cells, [moe layer][expert] x {@link #decayScale()}, a copy. */
    public double[] decayed() {
        return decayed.clone();
    }

    /** The unit of the decayed cells: a cell / this = the decayed count. */
    public double decayScale() {
        return scale;
    }
}
