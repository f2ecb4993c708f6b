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
 *   <li>top-n without a sorted insertion per expert: the best score of each chunk of 8 experts, branch-free;
 *       a bound that the n-th best score cannot be under (the least of n groups' best chunks: n distinct
 *       experts); then only the chunks whose best reaches the bound (a few) are scanned for the experts at or
 *       above it, and only those are ranked.</li>
 * </ul>
 * Not thread-safe: one per stream processor (or evaluation).
 */
public final class NextTokenPredictor {
    private final int experts;
    private final int k;
    private final double[] heat;       // [expert], one layer at a time
    private final double[] scores;     // [expert], one layer at a time
    private final int[] candidates;    // experts scoring at least the bound
    private int chunk;                 // experts per chunk (for the n of the last call)
    private long[] chunkBest;          // per chunk of consecutive experts, its best score's key
    private long[] stridedBits;        // per strided chunk (experts c, c + chunks, ...), its best score's bits
    private int chunkedFor;            // the m the chunks were made for
    private int[] reaching;            // chunks whose best reaches the first bound
    private int reachedChunks;         // how many
    private long[] topKeys;            // the m best of their maxima

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
        chunking(1);
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
        if (chunkedFor != m) {
            chunking(m);
        }
        for (int l = 0; l < expertsOut.length; l++) {
            layer(l, tables[l], popularity[l], history, current, m, expertsOut[l], scoresOut[l]);
        }
    }

    /**
     * Chunks of 8 experts (a cache line of scores; 32 chunks for 256 experts), or fewer experts per chunk when
     * n is so large that fewer than n chunks would remain (at least n chunks are needed for the bound).
     */
    private void chunking(int m) {
        chunk = experts / 8 >= m ? 8 : Math.max(1, experts / m);
        chunkBest = new long[(experts + chunk - 1) / chunk];
        chunkedFor = m;
        reaching = new int[chunkBest.length];
        topKeys = new long[m];
        stridedBits = new long[chunkBest.length];
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
        int found;
        if (!popularity.nonNegative()) {
            found = candidates(m);
        } else {
            found = candidatesOfNonNegative(m);
        }
        rank(candidates, found, m, expertsOut, scoresOut);
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
     * Into {@link #candidates}, ids ascending, every expert whose score is at least a bound that the m-th best
     * score cannot be under; returns how many. The experts fall in chunks of {@link #chunk} consecutive ids;
     * each chunk's best score is taken, the chunks are dealt into m groups (chunk c to group c mod m), and the
     * bound is the least of the groups' best: m distinct experts score at least it, so the m-th best score
     * does too. A chunk whose best is under the bound holds no candidate and is not read again, so only the
     * few chunks holding the top scores are scanned. Maxima are taken on the scores' order-preserving long
     * keys ({@link #key}) with {@code Math.max(long, long)}: a conditional move, where comparing doubles
     * branches, and these branches (is this score a new maximum?) are unpredictable.
     */
    private int candidates(int m) {
        double[] s = scores;
        long[] best = chunkBest;
        int w = chunk;
        int chunks = best.length;
        int full = experts / w;
        for (int ch = 0, from = 0; ch < full; ch++, from += w) {
            long max = key(s[from]);
            for (int e = from + 1; e < from + w; e++) {
                max = Math.max(max, key(s[e]));
            }
            best[ch] = max;
        }
        if (full < chunks) {
            long max = key(s[full * w]);
            for (int e = full * w + 1; e < experts; e++) {
                max = Math.max(max, key(s[e]));
            }
            best[full] = max;
        }
        long bound = boundOfChunks(best, m);
        int reached = reachedChunks;
        int[] reach = reaching;
        double threshold = score(bound);
        int found = 0;
        int[] cand = candidates;
        for (int i = 0; i < reached; i++) {
            int ch = reach[i];
            if (best[ch] < bound) {
                continue;
            }
            for (int e = ch * w, to = Math.min(e + w, experts); e < to; e++) { // branch-free
                cand[found] = e;
                found += s[e] >= threshold ? 1 : 0;
            }
        }
        return found;
    }

    /**
     * {@link #candidates} for scores that are all finite and >= +0.0, as every input makes them (probabilities,
     * decayed counts, popularity that {@link LayerPopularity#nonNegative} vouches for, weights over their
     * totals). The raw bits of such doubles order as the doubles do, so they are the keys as they are, and a
     * chunk is strided (experts c, c + chunks, c + 2 chunks, ...): the chunks' best are then an element-wise
     * maximum over rows of {@code chunks} consecutive keys, a loop the JIT vectorizes, where the best of each
     * run of consecutive experts is a reduction it does not. With the bound from the chunks (about 9 experts
     * for n = 8 on DeepSeek-V3), one branch-free pass over all the experts costs less than a strided pass over
     * the few chunks reaching it. Together 20 % less CPU per decode event than {@link #candidates}
     * (scripts/next-token-cpu, 2026-12-07).
     */
    private int candidatesOfNonNegative(int m) {
        double[] s = scores;
        long[] bits = stridedBits;
        int chunks = bits.length;
        for (int j = 0; j < chunks; j++) {
            bits[j] = Double.doubleToRawLongBits(s[j]);
        }
        int row = chunks;
        for (; row + chunks <= experts; row += chunks) { // element-wise: vectorized
            for (int j = 0; j < chunks; j++) {
                bits[j] = Math.max(bits[j], Double.doubleToRawLongBits(s[row + j]));
            }
        }
        for (int j = 0; row + j < experts; j++) {
            bits[j] = Math.max(bits[j], Double.doubleToRawLongBits(s[row + j]));
        }
        double threshold = Double.longBitsToDouble(boundOfChunks(bits, m));
        int found = 0;
        int[] cand = candidates;
        for (int e = 0; e < experts; e++) { // branch-free, all of them: cheaper than the strided chunks' loops
            cand[found] = e;
            found += s[e] >= threshold ? 1 : 0;
        }
        return found;
    }

    /**
     * A key that the m-th best score cannot be under, from the chunks' best keys {@code best}: the chunks are
     * dealt into m groups (chunk c to group c mod m) and the least of the groups' best is a first bound (m
     * distinct experts score at least it); the m-th best of the chunk maxima reaching it is a tighter one, and
     * is returned. The chunks reaching the first bound are left in {@link #reaching}, {@link #reachedChunks}
     * of them.
     */
    private long boundOfChunks(long[] best, int m) {
        int chunks = best.length;
        long bound = Long.MAX_VALUE;
        for (int group = 0; group < m; group++) {
            long max = best[group];
            for (int ch = group + m; ch < chunks; ch += m) {
                max = Math.max(max, best[ch]);
            }
            bound = Math.min(bound, max);
        }
        int[] reach = reaching;
        int reached = 0;
        for (int ch = 0; ch < chunks; ch++) { // branch-free
            reach[reached] = ch;
            reached += best[ch] >= bound ? 1 : 0;
        }
        reachedChunks = reached;
        long[] top = topKeys;
        int kept = 0;
        for (int i = 0; i < reached; i++) { // a descending top-m list by insertion
            long x = best[reach[i]];
            if (kept == m && x <= top[m - 1]) {
                continue;
            }
            int slot = kept < m ? kept++ : m - 1;
            while (slot > 0 && top[slot - 1] < x) {
                top[slot] = top[slot - 1];
                slot--;
            }
            top[slot] = x;
        }
        return top[m - 1];
    }

    /**
     * A long whose order is the order of the (never NaN) doubles, equal for equal doubles: the bits of a
     * positive one, the bits of a negative one with all but the sign flipped; -0.0 + 0.0 is +0.0, so the two
     * zeros, equal as doubles, get one key.
     */
    private static long key(double v) {
        long bits = Double.doubleToRawLongBits(v + 0.0);
        return bits ^ ((bits >> 63) >>> 1);
    }

    /** The double of a {@link #key}. */
    private static double score(long key) {
        return Double.longBitsToDouble(key ^ ((key >> 63) >>> 1));
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
