package io.expertcast.core.analysis;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.core.trace.RequestTrace;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Counts everything the paper's observations need for one model, one request at a time, so a trace
 * of any size streams through in bounded memory (a few E x E matrices per MoE layer):
 * <ul>
 *   <li>Ob2 token->token: (expert i at token t, expert j at token t+1) at the same MoE layer, all k x k
 *       pairs, consecutive tokens of the same request within the chosen phase;</li>
 *   <li>Ob1 layer->layer: (expert i at MoE layer l, expert j at the next MoE layer) for the same token
 *       (Llama-4's MoE layers are the odd ones, so "next" pairs layer N with N+2);</li>
 *   <li>Ob3 prefill vs decode: per-layer expert frequencies of the two phases, over requests that have both;</li>
 *   <li>Ob4 hot experts: per-layer expert frequencies in the chosen phase;</li>
 *   <li>Ob5 pairs: unordered pairs of distinct experts picked by the same token at the same layer.</li>
 * </ul>
 * {@link #report()} turns the counts into issue 3's figures.
 */
public final class TraceObservations {
    private final ModelShape model;
    private final Phase phase;
    private final int layers;
    private final int experts;
    private final int k;
    private final long[][] frequency;
    private final TransitionHeatmap tokenTransitions;
    private final long[][] layerTransitions;
    private final long[][] pairs;
    private final long[][] prefillFrequency;
    private final long[][] decodeFrequency;
    private long requests;
    private long requestsWithBothPhases;
    private long phaseTokens;

    public TraceObservations(ModelShape model, Phase phase) {
        this.model = model;
        this.phase = phase;
        this.layers = model.numMoeLayers();
        this.experts = model.numExperts();
        this.k = model.topK();
        long cells = (long) experts * experts;
        if (cells > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(model.id() + ": " + experts + " experts are too many for E x E counts");
        }
        this.frequency = new long[layers][experts];
        this.tokenTransitions = TransitionHeatmap.of(model);
        this.layerTransitions = new long[Math.max(0, layers - 1)][(int) cells];
        this.pairs = k > 1 ? new long[layers][(int) cells] : null;
        this.prefillFrequency = new long[layers][experts];
        this.decodeFrequency = new long[layers][experts];
    }

    public ModelShape model() {
        return model;
    }

    public Phase phase() {
        return phase;
    }

    /** Adds one request (its shape must be this model's). */
    public void add(RequestTrace request) {
        if (request.model().numMoeLayers() != layers || request.model().topK() != k
                || request.model().numExperts() > experts) {
            throw new IllegalArgumentException(request.requestId() + " has shape " + request.model()
                    + ", the analysis is of " + model);
        }
        requests++;
        int firstStep = phase == Phase.PREFILL ? 0 : 1;
        int lastStep = phase == Phase.PREFILL ? 0 : request.numSteps() - 1;
        int[] previousIds = null;
        int previousBase = 0;
        for (int step = firstStep; step <= lastStep; step++) {
            int[] ids = request.steps().get(step);
            int tokens = ids.length / (layers * k);
            for (int t = 0; t < tokens; t++) {
                int base = t * layers * k;
                countToken(ids, base);
                if (previousIds != null) {
                    tokenTransitions.observeToken(previousIds, previousBase, ids, base, k);
                }
                previousIds = ids;
                previousBase = base;
                phaseTokens++;
            }
        }
        if (request.numSteps() > 1) {
            requestsWithBothPhases++;
            addFrequencies(prefillFrequency, request.steps().get(0));
            for (int step = 1; step < request.numSteps(); step++) {
                addFrequencies(decodeFrequency, request.steps().get(step));
            }
        }
    }

    /** Frequencies, layer->layer transitions and pairs of one token (ids at {@code base}: [layer][k]). */
    private void countToken(int[] ids, int base) {
        for (int l = 0; l < layers; l++) {
            int at = base + l * k;
            for (int a = 0; a < k; a++) {
                int i = ids[at + a];
                frequency[l][i]++;
                if (l + 1 < layers) {
                    long[] row = layerTransitions[l];
                    int next = at + k;
                    for (int b = 0; b < k; b++) {
                        row[i * experts + ids[next + b]]++;
                    }
                }
                if (pairs != null) {
                    for (int b = a + 1; b < k; b++) {
                        int j = ids[at + b];
                        if (i != j) {
                            pairs[l][Math.min(i, j) * experts + Math.max(i, j)]++;
                        }
                    }
                }
            }
        }
    }

    private void addFrequencies(long[][] into, int[] ids) {
        int tokens = ids.length / (layers * k);
        for (int t = 0; t < tokens; t++) {
            for (int l = 0; l < layers; l++) {
                int at = (t * layers + l) * k;
                for (int a = 0; a < k; a++) {
                    into[l][ids[at + a]]++;
                }
            }
        }
    }

    /** Token->token counts of MoE layer {@code moeLayer}, row-major E x E (row = expert at token t). */
    public long[] tokenTransitions(int moeLayer) {
        return Arrays.stream(tokenTransitions.counts(moeLayer)).mapToLong(c -> (long) c).toArray();
    }

    /** Layer->layer counts from MoE layer {@code moeLayer} to the next, row-major E x E. */
    public long[] layerTransitions(int moeLayer) {
        return layerTransitions[moeLayer].clone();
    }

    /** Expert frequencies of MoE layer {@code moeLayer} in the chosen phase. */
    public long[] frequency(int moeLayer) {
        return frequency[moeLayer].clone();
    }

    /** The most frequent expert of a layer in the chosen phase (lower id on ties; -1 if none). */
    public int mostFrequentExpert(int moeLayer) {
        long[] f = frequency[moeLayer];
        int best = -1;
        for (int e = 0; e < experts; e++) {
            if (f[e] > 0 && (best < 0 || f[e] > f[best])) {
                best = e;
            }
        }
        return best;
    }

    /** The figures of issue 3, per layer and summarised. */
    public ObservationReport report() {
        int topCells = (int) Math.ceil(0.2 * experts);
        double[] tokenCoverage = new double[layers];
        double[] layerCoverage = new double[Math.max(0, layers - 1)];
        double[] hot = new double[layers];
        for (int l = 0; l < layers; l++) {
            int i = mostFrequentExpert(l);
            tokenCoverage[l] = i < 0 ? Double.NaN : tokenTransitions.topShare(l, i, topCells);
            if (l < layers - 1) {
                layerCoverage[l] = i < 0 ? Double.NaN : topShare(layerTransitions[l], i * experts, experts, topCells);
            }
            long total = Arrays.stream(frequency[l]).sum();
            hot[l] = total == 0 ? Double.NaN : frequency[l][Math.max(i, 0)] / (total / (double) experts);
        }
        double[] spearman = new double[layers];
        double[][] overlap = new double[3][layers];
        int[] overlapK = {5, 10, 20};
        for (int l = 0; l < layers; l++) {
            double[] p = toDouble(prefillFrequency[l]);
            double[] d = toDouble(decodeFrequency[l]);
            spearman[l] = requestsWithBothPhases == 0 ? Double.NaN : RankCorrelation.spearman(p, d);
            for (int o = 0; o < overlapK.length; o++) {
                overlap[o][l] = requestsWithBothPhases == 0 ? Double.NaN : topOverlap(p, d, overlapK[o]);
            }
        }
        double[] pairShare = null;
        double[] pairOverUniform = null;
        if (pairs != null) {
            pairShare = new double[layers];
            pairOverUniform = new double[layers];
            long possible = (long) experts * (experts - 1) / 2;
            int top = (int) Math.ceil(0.1 * possible);
            for (int l = 0; l < layers; l++) {
                long[] upper = new long[(int) possible];
                int n = 0;
                for (int i = 0; i < experts; i++) {
                    for (int j = i + 1; j < experts; j++) {
                        upper[n++] = pairs[l][i * experts + j];
                    }
                }
                Arrays.sort(upper);
                long total = Arrays.stream(upper).sum();
                long topSum = 0;
                for (int m = 0; m < top; m++) {
                    topSum += upper[upper.length - 1 - m];
                }
                pairShare[l] = total == 0 ? Double.NaN : topSum / (double) total;
                pairOverUniform[l] = total == 0 ? Double.NaN : upper[upper.length - 1] / (total / (double) possible);
            }
        }
        int[] layerIds = model.moeLayers();
        return new ObservationReport(model, phase, requests, requestsWithBothPhases, phaseTokens, layerIds,
                tokenCoverage, layerCoverage, spearman, overlap[0], overlap[1], overlap[2], hot, pairShare,
                pairOverUniform);
    }

    /** Share of a row's mass held by its {@code top} largest cells. */
    static double topShare(long[] matrix, int offset, int length, int top) {
        long[] row = Arrays.copyOfRange(matrix, offset, offset + length);
        Arrays.sort(row);
        long total = 0;
        long topSum = 0;
        for (int m = 0; m < row.length; m++) {
            total += row[m];
            if (m >= row.length - top) {
                topSum += row[m];
            }
        }
        return total == 0 ? Double.NaN : topSum / (double) total;
    }

    /** |top-n of a AND top-n of b| / n, ties broken by the lower expert id. */
    static double topOverlap(double[] a, double[] b, int n) {
        List<Integer> topA = topIds(a, n);
        List<Integer> topB = topIds(b, n);
        return topA.stream().filter(topB::contains).count() / (double) n;
    }

    static List<Integer> topIds(double[] v, int n) {
        List<Integer> ids = new ArrayList<>();
        for (int e = 0; e < v.length; e++) {
            ids.add(e);
        }
        ids.sort((x, y) -> v[x] != v[y] ? Double.compare(v[y], v[x]) : Integer.compare(x, y));
        return ids.subList(0, Math.min(n, ids.size()));
    }

    private static double[] toDouble(long[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }
}
