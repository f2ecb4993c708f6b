package io.expertcast.core.predict;

import java.util.Arrays;

/**
 * How a decode step scores a prediction (recall@n's hits), on expert sets held as bits: per MoE layer,
 * {@code words} longs. Hits at a layer are the distinct experts the step selected there that were
 * predicted (an id listed twice in a row counts once), as {@link PredictorEvaluation} counts them; the
 * step's set is built once and ANDed with each predictor's set, instead of a search per selected id.
 */
public final class StepScores {
    private StepScores() {
    }

    /** The step's selected experts, ids [layer][k], into {@code into} ([layer][words] bits). */
    public static void selected(int[] ids, int layers, int k, int words, long[] into) {
        Arrays.fill(into, 0, layers * words, 0L);
        for (int l = 0; l < layers; l++) {
            int base = l * words;
            for (int a = 0, at = l * k; a < k; a++) {
                int e = ids[at + a];
                into[base + (e >>> 6)] |= 1L << e;
            }
        }
    }

    /** A prediction, per layer its expert ids, into {@code into} ([layer][words] bits). */
    public static void bits(int[][] predicted, int words, long[] into) {
        Arrays.fill(into, 0, predicted.length * words, 0L);
        for (int l = 0; l < predicted.length; l++) {
            int base = l * words;
            for (int e : predicted[l]) {
                into[base + (e >>> 6)] |= 1L << e;
            }
        }
    }

    /** Experts in both sets at the layer whose bits start at {@code at}. */
    public static int hits(long[] selected, long[] predicted, int at, int words) {
        int h = 0;
        for (int w = at; w < at + words; w++) {
            h += Long.bitCount(selected[w] & predicted[w]);
        }
        return h;
    }
}
