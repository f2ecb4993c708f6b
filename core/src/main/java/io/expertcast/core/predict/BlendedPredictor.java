package io.expertcast.core.predict;

import java.util.List;

/**
 * Our two predictors' formulas, the {@code blended} columns of {@link PredictorEvaluation}; the live
 * predictor calls the same methods, so offline and live rank experts identically.
 *
 * <p>Decode plan (Insight 1, Ob3), per MoE layer, made once at the end of prefill:
 * {@code a x prefill_e / (P k) + (1 - a) x tag_e / tag_total} with {@code a = P / (P + P0)}: the more
 * prefill tokens P, the more the request's own counts weigh (P0 = {@value #PREFILL_PRIOR_TOKENS});
 * tag = the counts of earlier requests with the request's first known {@link #tagKeys tag} (same
 * benchmark and subject, else benchmark, else language), else of all earlier requests.
 *
 * <p>Next token (Insights 1-2), per MoE layer: {@value #W_HEATMAP} x the token->token probabilities of
 * the experts the previous token selected (each row's {@value #HEAT_ROW_WIDTH} most frequent successors,
 * summed, normalised) + {@value #W_RECENT} x the request's own
 * selections decayed with a half-life of {@value #HALF_LIFE_TOKENS} tokens ({@link RequestHistory},
 * normalised) + {@value #W_POPULARITY} x normalised global popularity.
 */
public final class BlendedPredictor {
    public static final double PREFILL_PRIOR_TOKENS = 16;
    public static final double W_HEATMAP = 0.45;
    public static final double W_RECENT = 0.45;
    public static final double W_POPULARITY = 0.10;
    public static final double HALF_LIFE_TOKENS = 8;
    /**
     * Successors per token->token row that the next-token heat reads: a row's 32 most frequent (a
     * prediction table 32 wide). The live predictor then holds 58 x 256 x 32 cells for DeepSeek-V3 (6 MB,
     * within the L3 cache) instead of whole rows (30 MB, from which every decode event read 464 rows in
     * DRAM: 150 us). On the 235 real Llama-4 requests, recall@n moves by at most 0.0002 against whole rows.
     */
    public static final int HEAT_ROW_WIDTH = 32;

    private BlendedPredictor() {
    }

    /** The popularity keys of a request, most specific first: subject, benchmark, language. */
    public static List<String> tagKeys(String benchmark, String subject, String language) {
        return List.of("s:" + benchmark + "/" + subject, "b:" + benchmark, "l:" + language);
    }

    /** a = P / (P + P0): the weight of the request's own prefill counts in its decode plan. */
    public static double prefillWeight(int prefillTokens) {
        return prefillTokens / (prefillTokens + PREFILL_PRIOR_TOKENS);
    }

    /**
     * Decode-plan scores of one MoE layer.
     *
     * @param own the request's prefill counts at the layer
     * @param tag the tag's (or, without one, everyone's) counts at the layer, from earlier requests
     */
    public static double[] decodePlanScores(double[] own, int prefillTokens, int k, double[] tag) {
        double a = prefillWeight(prefillTokens);
        double tagTotal = sum(tag);
        double[] blended = new double[own.length];
        for (int e = 0; e < own.length; e++) {
            blended[e] = a * own[e] / ((double) prefillTokens * k)
                    + (1 - a) * (tagTotal == 0 ? 0 : tag[e] / tagTotal);
        }
        return blended;
    }

    /**
     * Next-token scores of one MoE layer, the totals summed here in expert order.
     *
     * @param heat       summed token->token probabilities of the previous token's experts
     * @param decayed    the request's decayed selections at the layer
     * @param popularity global counts at the layer
     */
    public static double[] nextTokenScores(double[] heat, double[] decayed, double[] popularity) {
        return nextTokenScores(heat, sum(heat), decayed, sum(decayed), popularity, sum(popularity));
    }

    /**
     * Next-token scores of one MoE layer with the three totals given (the live predictor keeps them as its
     * inputs change instead of summing them per step): {@code (W_HEATMAP / heatTotal) x heat_e +
     * (W_RECENT / decayedTotal) x decayed_e + (W_POPULARITY / popularityTotal) x popularity_e}, a term
     * whose total is 0 left out. {@link NextTokenPredictor} computes exactly this, bit for bit.
     */
    public static double[] nextTokenScores(double[] heat, double heatTotal, double[] decayed, double decayedTotal,
                                           double[] popularity, double popularityTotal) {
        double a = heatTotal == 0 ? 0 : W_HEATMAP / heatTotal;
        double b = decayedTotal == 0 ? 0 : W_RECENT / decayedTotal;
        double c = popularityTotal == 0 ? 0 : W_POPULARITY / popularityTotal;
        double[] blended = new double[heat.length];
        for (int e = 0; e < heat.length; e++) {
            blended[e] = a * heat[e] + b * decayed[e] + c * popularity[e];
        }
        return blended;
    }

    /** The n best of a score vector (highest first, ties to the lower id). */
    public static int[] top(double[] scores, int n) {
        return Ranking.top(scores, n);
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s;
    }
}
