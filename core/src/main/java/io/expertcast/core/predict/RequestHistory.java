package io.expertcast.core.predict;

import java.util.Arrays;

/**
 * One request's own selections so far (Insight 1: a request keeps reusing its experts), per MoE layer
 * x expert: plain counts, and counts decayed with a half-life of {@link BlendedPredictor#HALF_LIFE_TOKENS}
 * tokens, which the blended next-token predictor reads. Every slot counts (a row listing an expert
 * twice counts it twice), as the offline evaluation does.
 */
public final class RequestHistory {
    private static final double DECAY = Math.pow(0.5, 1 / BlendedPredictor.HALF_LIFE_TOKENS);

    private final int layers;
    private final int experts;
    private final int k;
    private final int[] counts;
    private final double[] decayed;
    private int tokens;

    public RequestHistory(int layers, int experts, int k) {
        this(layers, experts, k, new int[layers * experts], new double[layers * experts], 0);
    }

    private RequestHistory(int layers, int experts, int k, int[] counts, double[] decayed, int tokens) {
        if (counts.length != layers * experts || decayed.length != counts.length) {
            throw new IllegalArgumentException("history of " + counts.length + " cells, expected " + layers * experts);
        }
        this.layers = layers;
        this.experts = experts;
        this.k = k;
        this.counts = counts;
        this.decayed = decayed;
        this.tokens = tokens;
    }

    /** Restores a history from {@link #counts()}, {@link #decayed()} and {@link #tokens()} (e.g. from a state store). */
    public static RequestHistory of(int layers, int experts, int k, int[] counts, double[] decayed, int tokens) {
        return new RequestHistory(layers, experts, k, counts.clone(), decayed.clone(), tokens);
    }

    /** One token, ids [moe layer][k] from {@code at}: everything earlier decays by one token, then it counts. */
    public void observe(int[] ids, int at) {
        for (int i = 0; i < decayed.length; i++) {
            decayed[i] *= DECAY;
        }
        for (int l = 0; l < layers; l++) {
            for (int a = 0; a < k; a++) {
                int cell = l * experts + ids[at + l * k + a];
                counts[cell]++;
                decayed[cell] += 1;
            }
        }
        tokens++;
    }

    public int count(int layer, int expert) {
        return counts[layer * experts + expert];
    }

    /** The decayed selections of one layer, a copy. */
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

    /** The live decayed counts, [moe layer][expert], not a copy: for {@link NextTokenPredictor}, which only reads. */
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

    /** All decayed counts, [moe layer][expert], a copy. */
    public double[] decayed() {
        return decayed.clone();
    }
}
