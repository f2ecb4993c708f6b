package io.expertcast.core.predict;

import io.expertcast.core.analysis.RankCorrelation;
import io.expertcast.core.model.ModelShape;

/**
 * Everything the live predictor computes for one request of one model, Kafka-free: the two decode-phase
 * plans at its first decode step (Insight 1), the next-token forecast at every step (Insights 1-2), the
 * hits of each prediction when its step arrives, and the prefill/decode rank correlation at its end (Ob3).
 * The stream processor only moves state and records in and out; what it reads of the global heatmaps it
 * hands in as {@link TransitionRows} and {@link LayerPopularity}. Holds reused scratch: one per model and
 * processor (not thread-safe).
 */
public final class RequestForecaster {
    private final ModelShape shape;
    private final int n;
    private final int words;
    private final NextTokenPredictor nextToken;
    private final long[] selected;
    private final long[] predicted;

    public RequestForecaster(ModelShape shape, int n) {
        if (n <= 0) {
            throw new IllegalArgumentException("n must be positive, got " + n);
        }
        this.shape = shape;
        this.n = n;
        this.words = (shape.numExperts() + 63) >>> 6;
        this.nextToken = new NextTokenPredictor(shape.numMoeLayers(), shape.numExperts(), shape.topK());
        this.selected = new long[shape.numMoeLayers() * words];
        this.predicted = new long[shape.numMoeLayers() * words];
    }

    /** Experts predicted per layer: min(n, experts). */
    public int width() {
        return Math.min(n, shape.numExperts());
    }

    /**
     * The blended decode plan ({@link BlendedPredictor#decodePlanScores}): per layer the n best of the
     * request's prefill counts blended with {@code tagPopularity} (finished requests of its tag, or all).
     */
    public int[][] decodePlan(RequestHistory history, int prefillTokens, LayerPopularity[] tagPopularity,
                              double[][] scoresOut) {
        int[][] plan = new int[shape.numMoeLayers()][];
        for (int l = 0; l < plan.length; l++) {
            double[] scores = BlendedPredictor.decodePlanScores(history.countsOf(l), prefillTokens, shape.topK(),
                    tagPopularity[l].counts());
            plan[l] = BlendedPredictor.top(scores, n);
            scoresOut[l] = new double[plan[l].length];
            for (int i = 0; i < plan[l].length; i++) {
                scoresOut[l][i] = scores[plan[l][i]];
            }
        }
        return plan;
    }

    /** The prefill-only decode plan ({@link DecodePlanner}), scored beside the blended one as a baseline. */
    public int[][] prefillOnlyPlan(PrefillHeatmap prefill) {
        DecodePlan plan = new DecodePlanner(n).plan(prefill);
        int[][] a = new int[plan.numMoeLayers()][];
        for (int l = 0; l < a.length; l++) {
            a[l] = plan.experts(l);
        }
        return a;
    }

    /**
     * The next-token forecast after {@code current} ({@link NextTokenPredictor}): per layer the n best ids into
     * a new plan, their scores into {@code scoresOut[l]} (made {@link #width()} long where they are not).
     */
    public int[][] nextToken(TransitionRows[] rows, LayerPopularity[] popularity, RequestHistory history,
                             int[] current, double[][] scoresOut) {
        int[][] plan = new int[shape.numMoeLayers()][width()];
        for (int l = 0; l < plan.length; l++) {
            if (scoresOut[l] == null || scoresOut[l].length != width()) {
                scoresOut[l] = new double[width()];
            }
        }
        nextToken.predict(rows, popularity, history, current, n, plan, scoresOut);
        return plan;
    }

    /** The step's selected experts (ids [layer][k]), held for the {@link #hits} of each prediction. */
    public void step(int[] ids) {
        StepScores.selected(ids, shape.numMoeLayers(), shape.topK(), words, selected);
    }

    /**
     * Per layer, how many distinct experts of the last {@link #step} the prediction held, into {@code hitsOut},
     * and how many experts it predicted, into {@code predictedOut}.
     */
    public void hits(int[][] prediction, int[] hitsOut, int[] predictedOut) {
        StepScores.bits(prediction, words, predicted);
        for (int l = 0; l < prediction.length; l++) {
            hitsOut[l] = StepScores.hits(selected, predicted, l * words, words);
            predictedOut[l] = prediction[l].length;
        }
    }

    /**
     * Per layer, Spearman between the request's prefill counts and its decode counts (Ob3; NaN if constant), at
     * its last step {@code lastIds}, which the history does not hold yet.
     */
    public double[] spearman(PrefillHeatmap prefill, RequestHistory history, int[] lastIds) {
        int layers = shape.numMoeLayers();
        int experts = shape.numExperts();
        int k = shape.topK();
        double[] rho = new double[layers];
        double[] p = new double[experts];
        double[] d = new double[experts];
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                p[e] = prefill.count(l, e);
                d[e] = Math.max(0, history.count(l, e) - prefill.count(l, e));
            }
            for (int slot = 0; slot < k; slot++) {
                d[lastIds[l * k + slot]]++;
            }
            rho[l] = RankCorrelation.spearman(p, d);
        }
        return rho;
    }
}
