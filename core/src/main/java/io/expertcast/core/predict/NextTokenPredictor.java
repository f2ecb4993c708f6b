package io.expertcast.core.predict;

import java.util.Arrays;

/**
 * The blended next-token prediction of every MoE layer for one decode step (Insights 1-2: the formula is
 * {@link BlendedPredictor#nextTokenScores}, top-n by {@link Ranking#top}), made at the speed of a stream:
 * it runs once per request and decode step, over 58 x 256 experts for DeepSeek-V3. Live, offline
 * ({@link PredictorEvaluation}) and in the emulator's in-process forecast it is this class that predicts,
 * so the three agree bit for bit; {@code NextTokenPredictorTest} checks it against the reference formula.
 *
 * <p>Per layer it touches only what it must, and allocates nothing:
 * <ul>
 *   <li>heat: the k rows of the experts just selected ({@link TransitionRows}, top 32 successors each),
 *       added into scratch; its total is the rows' masses, kept with the rows, not a pass over the experts;</li>
 *   <li>the request's decayed total is kept by {@link RequestHistory} as it grows; the popularity total is
 *       exact integer arithmetic ({@link LayerPopularity}); so the three weights are three divisions per
 *       layer, and every expert's score is three multiply-adds in one vectorizable loop;</li>
 *   <li>top-n without a sorted insertion per expert: a bound that the n-th best score cannot be under (the
 *       n-th best score of a few experts sure to score high, the experts just selected and each read row's
 *       two best successors; and the least of the maxima of n blocks of experts, n distinct experts), then one
 *       branch-free pass keeps the experts at or above it (a handful), and only those are ranked.</li>
 * </ul>
 * Not thread-safe: one per stream processor (or evaluation).
 */
public final class NextTokenPredictor {
    private final int experts;
    private final int k;
    private final double[] heat;       // [expert], one layer at a time
    private final double[] scores;     // [expert], one layer at a time
    private final int[] candidates;    // experts scoring at least the bound
    private final double[] seedScores; // the seeds' scores, ranked
    private final int[] seeds;

    public NextTokenPredictor(int layers, int experts, int k) {
        if (layers <= 0 || experts <= 0 || k <= 0) {
            throw new IllegalArgumentException("need positive layers, experts and k, got " + layers + ", " + experts
                    + ", " + k);
        }
        this.experts = experts;
        this.k = k;
        this.heat = new double[experts];
        this.scores = new double[experts];
        this.candidates = new int[experts];
        this.seeds = new int[3 * k];
        this.seedScores = new double[3 * k];
    }

    /**
     * Per MoE layer l, the n best experts for the token after {@code current} and their scores,
     * {@link BlendedPredictor#nextTokenScores} with heat = the sum over current's k experts at l of their
     * rows in {@code tables[l]}, the request's decayed selections, and popularity = {@code popularity[l]} +
     * the request's own counts.
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
        int m = Math.min(n, experts);
        for (int l = 0; l < expertsOut.length; l++) {
            layer(l, tables[l], popularity[l], history, current, m, expertsOut[l], scoresOut[l]);
        }
    }

    private void layer(int l, TransitionRows rows, LayerPopularity popularity, RequestHistory history, int[] current,
                       int m, int[] expertsOut, double[] scoresOut) {
        double[] h = heat;
        Arrays.fill(h, 0.0);
        double heatTotal = 0;
        if (current != null) {
            for (int b = 0, at = l * k; b < k; b++) {
                int from = current[at + b];
                rows.addRow(from, h);
                heatTotal += rows.mass(from);
            }
        }
        double[] own = history.countRow(l);
        double[] decayed = history.decayedRow(l);
        double[] g = popularity.counts();
        long ownTotal = (long) history.tokens() * history.topK();
        double popTotal = popularity.exactWith(ownTotal) ? popularity.total() + ownTotal : popularityTotal(g, own);
        double a = heatTotal == 0 ? 0 : BlendedPredictor.W_HEATMAP / heatTotal;
        double b = history.decayedTotal(l) == 0 ? 0 : BlendedPredictor.W_RECENT / history.decayedTotal(l);
        double c = popTotal == 0 ? 0 : BlendedPredictor.W_POPULARITY / popTotal;
        double[] s = scores;
        for (int e = 0; e < experts; e++) {
            s[e] = a * h[e] + b * decayed[e] + c * (g[e] + own[e]);
        }
        double bound = Math.max(seedBound(l, rows, current, m), blockBound(m));
        int found = 0;
        int[] cand = candidates;
        for (int e = 0; e < experts; e++) { // branch-free: most experts fall under the bound
            cand[found] = e;
            found += s[e] >= bound ? 1 : 0;
        }
        rank(cand, found, m, expertsOut, scoresOut);
    }

    /** Popularity + own counts summed in expert order (popularity that is not all integers). */
    private double popularityTotal(double[] g, double[] own) {
        double sum = 0;
        for (int e = 0; e < experts; e++) {
            sum += g[e] + own[e];
        }
        return sum;
    }

    /**
     * The m-th best score among a few distinct experts (those just selected at the layer, each read row's two
     * best successors): the m-th best of all experts is at least that. Minus infinity with fewer than m of them.
     */
    private double seedBound(int l, TransitionRows rows, int[] current, int m) {
        if (current == null) {
            return Double.NEGATIVE_INFINITY;
        }
        int count = 0;
        for (int b = 0, at = l * k; b < k; b++) {
            count = seed(current[at + b], count);
            int from = current[at + b];
            for (int i = 0, m2 = rows.length(from); i < Math.min(2, m2); i++) {
                count = seed(rows.successor(from, i), count);
            }
        }
        if (count < m) {
            return Double.NEGATIVE_INFINITY;
        }
        for (int i = 0; i < count; i++) {
            seedScores[i] = scores[seeds[i]];
        }
        Arrays.sort(seedScores, 0, count);
        return seedScores[count - m];
    }

    /**
     * The smallest of the maxima of m blocks of experts (each block non-empty): those maxima are m distinct
     * experts, so the m-th best score is at least their minimum.
     */
    private double blockBound(int m) {
        double bound = Double.POSITIVE_INFINITY;
        double[] s = scores;
        for (int b = 0; b < m; b++) {
            int from = (int) ((long) b * experts / m);
            int to = (int) ((long) (b + 1) * experts / m);
            double max = s[from];
            for (int e = from + 1; e < to; e++) {
                double v = s[e];
                max = v > max ? v : max; // scores are never NaN
            }
            bound = Math.min(bound, max);
        }
        return bound;
    }

    private int seed(int expert, int count) {
        for (int i = 0; i < count; i++) {
            if (seeds[i] == expert) {
                return count;
            }
        }
        seeds[count] = expert;
        return count + 1;
    }

    /** The m best of {@code cand[0 .. found)} (ids ascending), best first, ties to the lower id. */
    private void rank(int[] cand, int found, int m, int[] expertsOut, double[] scoresOut) {
        int kept = 0;
        for (int i = 0; i < found; i++) {
            int e = cand[i];
            double v = scores[e];
            if (kept == m && !(v > scoresOut[m - 1])) {
                continue; // ids ascend: an equal score later loses the tie
            }
            int slot = kept < m ? kept++ : m - 1;
            while (slot > 0 && scoresOut[slot - 1] < v) {
                expertsOut[slot] = expertsOut[slot - 1];
                scoresOut[slot] = scoresOut[slot - 1];
                slot--;
            }
            expertsOut[slot] = e;
            scoresOut[slot] = v;
        }
    }
}
