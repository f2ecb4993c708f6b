package io.expertcast.core.predict;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The predictors of issue 4 side by side, offline, under one protocol: requests in the order given
 * (dataset order); every prediction made only from what came before the predicted step (earlier
 * requests, and this request's earlier steps). recall@n = |the n predicted experts of a layer AND the
 * experts the step really selected there| / k, averaged over (request, decode step, MoE layer).
 *
 * <p>Decode plan (Insight 1), made once at the end of prefill for every decode step:
 * <ul>
 *   <li>{@code prefill_only}: the request's prefill counts;</li>
 *   <li>{@code popularity}: global per-layer counts (earlier requests and this prefill);</li>
 *   <li>{@code blended} (ours, {@link BlendedPredictor#decodePlanScores}): {@code a x prefill_e / (P k)
 *       + (1 - a) x tag_e / tag_total} with {@code a = P / (P + 16)}: the more prefill tokens P, the more
 *       the request's own counts weigh; tag = the counts of earlier requests of the same benchmark and
 *       subject, else the same benchmark, else the same language, else all.</li>
 * </ul>
 * Next token (Insights 1-2), for decode step s from everything before it:
 * <ul>
 *   <li>{@code recent}: the n most recently selected distinct experts of this request at the layer;</li>
 *   <li>{@code token_heatmap} (the paper's): for the experts the previous token selected, their rows of the
 *       global token->token table as probabilities (each row's {@link BlendedPredictor#HEAT_ROW_WIDTH} most
 *       frequent successors, as a prediction table holds it), summed; the n highest. The table holds every
 *       transition before the step but the request's own latest one, which it gets one token late, as the
 *       live predictor's table does;</li>
 *   <li>{@code popularity}: global per-layer counts;</li>
 *   <li>{@code nearest_neighbour} (MoE-Infinity's idea): the finished request whose activation matrix
 *       (layer x expert counts) is closest by cosine to this request's so far; its top-n at the layer;</li>
 *   <li>{@code blended} (ours, {@link BlendedPredictor#nextTokenScores}, computed by the live predictor's
 *       {@link NextTokenPredictor}): 0.45 x token_heatmap probability
 *       + 0.45 x the request's own selections decayed with a half-life of 8 tokens (normalised) + 0.10 x
 *       normalised popularity.</li>
 * </ul>
 */
public final class PredictorEvaluation {
    public static final List<String> DECODE_PLAN = List.of("blended", "prefill_only", "popularity");
    public static final List<String> NEXT_TOKEN = List.of("blended", "recent", "token_heatmap", "popularity",
            "nearest_neighbour");

    /** recall@n per predictor, for each n. */
    public record Result(int[] n, Map<String, double[]> decodePlan, Map<String, double[]> nextToken, long requests,
                         long decodePlanSamples, long nextTokenSamples) {
    }

    private final int[] ns;
    private final int maxN;
    private final Map<String, ModelState> models = new HashMap<>();
    private final Map<String, long[]> decodePlanHits = new LinkedHashMap<>();
    private final Map<String, long[]> nextTokenHits = new LinkedHashMap<>();
    private long decodePlanSelected;
    private long nextTokenSelected;
    private long decodePlanSamples;
    private long nextTokenSamples;
    private long requests;

    public PredictorEvaluation(int[] ns) {
        if (ns.length == 0) {
            throw new IllegalArgumentException("give at least one n");
        }
        this.ns = ns.clone();
        int m = 0;
        for (int n : ns) {
            if (n <= 0) {
                throw new IllegalArgumentException("n must be positive, got " + n);
            }
            m = Math.max(m, n);
        }
        this.maxN = m;
        DECODE_PLAN.forEach(p -> decodePlanHits.put(p, new long[ns.length]));
        NEXT_TOKEN.forEach(p -> nextTokenHits.put(p, new long[ns.length]));
    }

    /** What the evaluation has learned about one model: everything from earlier requests and steps. */
    private static final class ModelState {
        final int layers;
        final int experts;
        final int k;
        final long[][] popularity;
        final TransitionHeatmap transitions;
        final Map<String, long[][]> tagPopularity = new HashMap<>();
        final List<int[]> library = new ArrayList<>(); // finished requests' layer x expert counts
        final List<Double> libraryNorms = new ArrayList<>();

        ModelState(ModelShape m) {
            layers = m.numMoeLayers();
            experts = m.numExperts();
            k = m.topK();
            popularity = new long[layers][experts];
            transitions = TransitionHeatmap.of(m);
        }

        long[][] tag(String key) {
            return tagPopularity.computeIfAbsent(key, x -> new long[layers][experts]);
        }
    }

    public void add(RequestTrace r) {
        ModelShape model = r.model();
        ModelState st = models.computeIfAbsent(model.id(), id -> new ModelState(model));
        int layers = st.layers;
        int experts = st.experts;
        int k = st.k;
        String[] tagKeys = BlendedPredictor.tagKeys(r.benchmark(), r.subject(), r.language()).toArray(String[]::new);
        long[][] tagPop = null; // chosen before this request counts (earlier requests only)
        for (String key : tagKeys) {
            long[][] t = st.tagPopularity.get(key);
            if (t != null && sum(t[0]) > 0) {
                tagPop = t;
                break;
            }
        }
        if (tagPop == null) {
            tagPop = copy(st.popularity);
        } else {
            tagPop = copy(tagPop);
        }
        Request req = new Request(st, tagKeys);
        int[] prefill = r.steps().get(0);
        int prefillTokens = r.prefillTokens();
        for (int t = 0; t < prefillTokens; t++) {
            req.observe(prefill, t * layers * k, false);
        }
        // Decode plans, fixed at the end of prefill.
        int[][][] plans = new int[DECODE_PLAN.size()][layers][];
        for (int l = 0; l < layers; l++) {
            double[] own = req.history.countsOf(l);
            double[] pop = new double[experts];
            double[] tag = new double[experts];
            for (int e = 0; e < experts; e++) {
                pop[e] = st.popularity[l][e];
                tag[e] = tagPop[l][e];
            }
            double[] blended = BlendedPredictor.decodePlanScores(own, prefillTokens, k, tag);
            plans[0][l] = Ranking.top(blended, maxN);
            plans[1][l] = Ranking.top(own, maxN);
            plans[2][l] = Ranking.top(pop, maxN);
        }
        for (int s = 1; s < r.numSteps(); s++) {
            int[] ids = r.steps().get(s);
            // decode plan
            for (int p = 0; p < DECODE_PLAN.size(); p++) {
                long[] hits = decodePlanHits.get(DECODE_PLAN.get(p));
                for (int l = 0; l < layers; l++) {
                    addHits(hits, plans[p][l], ids, l * k, k);
                }
            }
            decodePlanSamples += layers;
            decodePlanSelected += (long) layers * k;
            // next token, from the state before step s
            int bestNeighbour = req.nearestNeighbour();
            int[][] blendedTop = req.blended(maxN);
            for (int l = 0; l < layers; l++) {
                double[] heat = req.heatmapScores(l);
                double[] recentScores = new double[experts];
                double[] pop = new double[experts];
                for (int e = 0; e < experts; e++) {
                    recentScores[e] = req.lastSeen[l * experts + e];
                    pop[e] = st.popularity[l][e];
                }
                double[] neighbour = pop;
                if (bestNeighbour >= 0) {
                    int[] m = st.library.get(bestNeighbour);
                    neighbour = new double[experts];
                    for (int e = 0; e < experts; e++) {
                        neighbour[e] = m[l * experts + e];
                    }
                }
                addHits(nextTokenHits.get("blended"), blendedTop[l], ids, l * k, k);
                addHits(nextTokenHits.get("recent"), Ranking.top(recentScores, maxN), ids, l * k, k);
                addHits(nextTokenHits.get("token_heatmap"), Ranking.top(heat, maxN), ids, l * k, k);
                addHits(nextTokenHits.get("popularity"), Ranking.top(pop, maxN), ids, l * k, k);
                addHits(nextTokenHits.get("nearest_neighbour"), Ranking.top(neighbour, maxN), ids, l * k, k);
            }
            nextTokenSamples += layers;
            nextTokenSelected += (long) layers * k;
            req.observe(ids, 0, true);
        }
        req.applyDeferredTransition();
        st.library.add(req.counts.clone());
        st.libraryNorms.add(Math.sqrt(req.norm2));
        requests++;
    }

    /** One request's own state while it runs, and its updates to the model's global state. */
    private final class Request {
        final ModelState st;
        final String[] tagKeys;
        final int[] counts;        // layer x expert: the activation matrix so far
        final RequestHistory history;
        final NextTokenPredictor predictor;
        final double[] lastSeen;   // layer x expert: token index of the last selection, -1 never
        final double[] dots;       // with each finished request's matrix
        double norm2;
        int[] previous;
        int previousAt;
        int[] deferredFrom;        // a decode token's transition not yet in the global table
        int deferredFromAt;
        int[] deferredTo;
        int deferredToAt;
        int tokenIndex;

        Request(ModelState st, String[] tagKeys) {
            this.st = st;
            this.tagKeys = tagKeys;
            counts = new int[st.layers * st.experts];
            history = new RequestHistory(st.layers, st.experts, st.k);
            predictor = new NextTokenPredictor(st.layers, st.experts, st.k);
            lastSeen = new double[st.layers * st.experts];
            java.util.Arrays.fill(lastSeen, -1);
            dots = new double[st.library.size()];
        }

        /**
         * A token seen: the request's state, then the global counts (transitions from the previous token).
         * A decode token's transition reaches the global table one token late, as in the live predictor,
         * where a step's transition is counted by the heatmap aggregator only after the step was processed:
         * the next-token prediction made at step s reads a table without the request's own s-1 -> s.
         */
        void observe(int[] ids, int at, boolean decode) {
            int layers = st.layers;
            int experts = st.experts;
            int k = st.k;
            history.observe(ids, at);
            for (int l = 0; l < layers; l++) {
                for (int a = 0; a < k; a++) {
                    int e = ids[at + l * k + a];
                    int cell = l * experts + e;
                    norm2 += 2.0 * counts[cell] + 1;
                    counts[cell]++;
                    for (int r = 0; r < dots.length; r++) {
                        dots[r] += st.library.get(r)[cell];
                    }
                    lastSeen[cell] = tokenIndex;
                    st.popularity[l][e]++;
                    for (String key : tagKeys) {
                        st.tag(key)[l][e]++;
                    }
                }
            }
            applyDeferredTransition();
            if (previous != null) {
                if (decode) {
                    deferredFrom = previous;
                    deferredFromAt = previousAt;
                    deferredTo = ids;
                    deferredToAt = at;
                } else {
                    st.transitions.observeToken(previous, previousAt, ids, at, k);
                }
            }
            previous = ids;
            previousAt = at;
            tokenIndex++;
        }

        void applyDeferredTransition() {
            if (deferredFrom != null) {
                st.transitions.observeToken(deferredFrom, deferredFromAt, deferredTo, deferredToAt, st.k);
                deferredFrom = null;
                deferredTo = null;
            }
        }

        /**
         * Sum over the previous token's experts of P(next = j | that expert) for the
         * {@link BlendedPredictor#HEAT_ROW_WIDTH} most frequent successors of each, from the global table.
         */
        double[] heatmapScores(int l) {
            double[] scores = new double[st.experts];
            if (previous != null) {
                for (int b = 0; b < st.k; b++) {
                    st.transitions.addTopRowProbabilities(l, previous[previousAt + l * st.k + b],
                            BlendedPredictor.HEAT_ROW_WIDTH, scores);
                }
            }
            return scores;
        }

        /**
         * Our blended next-token prediction after the previous token, by the live predictor's own
         * {@link NextTokenPredictor}: the previous token's rows of the global table as it is now, popularity
         * = earlier requests' counts plus this request's own (the predictor adds the own counts itself).
         */
        int[][] blended(int n) {
            int layers = st.layers;
            int experts = st.experts;
            int k = st.k;
            TransitionRows[] rows = new TransitionRows[layers];
            LayerPopularity[] popularity = new LayerPopularity[layers];
            int[] current = previous == null ? null
                    : java.util.Arrays.copyOfRange(previous, previousAt, previousAt + layers * k);
            for (int l = 0; l < layers; l++) {
                rows[l] = current == null ? TransitionRows.empty(experts)
                        : TransitionRows.of(st.transitions, l, current, l * k, k);
                double[] others = new double[experts];
                for (int e = 0; e < experts; e++) {
                    others[e] = st.popularity[l][e] - history.count(l, e);
                }
                popularity[l] = new LayerPopularity(others);
            }
            int m = Math.min(n, experts);
            int[][] top = new int[layers][m];
            double[][] scores = new double[layers][m];
            predictor.predict(rows, popularity, history, current, n, top, scores);
            return top;
        }

        /** The finished request most similar by cosine, or -1 when there is none (or nothing seen yet). */
        int nearestNeighbour() {
            int best = -1;
            double bestSim = 0;
            for (int r = 0; r < dots.length; r++) {
                double norm = st.libraryNorms.get(r);
                double sim = norm == 0 || norm2 == 0 ? 0 : dots[r] / (norm * Math.sqrt(norm2));
                if (sim > bestSim) {
                    bestSim = sim;
                    best = r;
                }
            }
            return best;
        }
    }

    private void addHits(long[] hits, int[] ranked, int[] ids, int at, int k) {
        for (int i = 0; i < ns.length; i++) {
            int n = Math.min(ns[i], ranked.length);
            int h = 0;
            for (int a = 0; a < k; a++) {
                int e = ids[at + a];
                for (int j = 0; j < n; j++) {
                    if (ranked[j] == e) {
                        h++;
                        break;
                    }
                }
            }
            hits[i] += h;
        }
    }

    public Result result() {
        Map<String, double[]> plan = new LinkedHashMap<>();
        decodePlanHits.forEach((p, h) -> plan.put(p, recall(h, decodePlanSelected)));
        Map<String, double[]> next = new LinkedHashMap<>();
        nextTokenHits.forEach((p, h) -> next.put(p, recall(h, nextTokenSelected)));
        return new Result(ns.clone(), plan, next, requests, decodePlanSamples, nextTokenSamples);
    }

    private static double[] recall(long[] hits, long selected) {
        double[] r = new double[hits.length];
        for (int i = 0; i < hits.length; i++) {
            r[i] = selected == 0 ? 0 : hits[i] / (double) selected;
        }
        return r;
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long x : v) {
            s += x;
        }
        return s;
    }

    private static long[][] copy(long[][] v) {
        long[][] c = new long[v.length][];
        for (int i = 0; i < v.length; i++) {
            c[i] = v[i].clone();
        }
        return c;
    }
}
