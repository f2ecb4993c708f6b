package io.expertcast.bench;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.BlendedPredictor;
import io.expertcast.core.predict.LayerPopularity;
import io.expertcast.core.predict.NextTokenPredictor;
import io.expertcast.core.predict.RequestHistory;
import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.core.predict.TransitionRows;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.core.trace.RequestTrace;
import java.util.Arrays;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The live predictor's next-token arithmetic for one DeepSeek-V3 decode event (58 MoE layers, 256
 * experts, top-8, n = 8) per call, as it was ({@link #before}: the per-layer code of main db16c4d, whole
 * rows of the current table, kept here verbatim) and as it is ({@link #after}: {@link NextTokenPredictor}
 * on {@link TransitionRows}, each row's top 32 successors). Inputs: a token->token table and popularity
 * learned from {@value #LEARNED} calibrated synthetic requests (the stream of {@code bench predictor}); each
 * call predicts after the next of {@value #EVENTS} real decode tokens of other requests (so, as in the
 * stream, the rows read change from call to call and come from memory, not from a cache kept warm by one
 * event), with one request's history, {@value #STEP} decode steps in. Global-store lookups are resolved
 * beforehand for both: only the arithmetic is timed.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class NextTokenBenchmark {
    static final int LEARNED = 200;
    static final int STEP = 32;
    static final int N = 8;
    static final int EVENTS = 512;

    final ModelShape model = ModelCatalog.DEEPSEEK_V3;
    int layers;
    int experts;
    int k;
    TransitionRows[] rows;
    LayerPopularity[] popularity;
    OldTokenTransitions[] oldTables;
    double[][] oldPopularity;
    RequestHistory history;
    int[] current;
    int[] before;
    int[][] currents = new int[EVENTS][];
    int[][] befores = new int[EVENTS][];
    int next;
    NextTokenPredictor predictor;

    @Setup
    public void setUp() {
        layers = model.numMoeLayers();
        experts = model.numExperts();
        k = model.topK();
        SyntheticTraceGenerator generator = new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), 11);
        Iterator<RequestTrace> requests = generator.requests(LEARNED + 1);
        TransitionHeatmap table = new TransitionHeatmap(layers, experts);
        double[][] counts = new double[layers][experts];
        for (int r = 0; r < LEARNED; r++) {
            RequestTrace request = requests.next();
            int[] previous = null;
            int previousAt = 0;
            for (int s = 0; s < request.numSteps(); s++) {
                int[] ids = request.steps().get(s);
                for (int t = 0; t < request.tokens(s); t++) {
                    int at = t * layers * k;
                    if (previous != null) {
                        table.observeToken(previous, previousAt, ids, at, k);
                    }
                    for (int i = 0; i < layers * k; i++) {
                        counts[i / k][ids[at + i]]++;
                    }
                    previous = ids;
                    previousAt = at;
                }
            }
        }
        RequestTrace request = requests.next();
        Iterator<RequestTrace> others = generator.requests(LEARNED + 1 + EVENTS);
        for (int e = 0; e < EVENTS; ) {
            RequestTrace other = others.next();
            for (int s = 2; s < other.numSteps() && e < EVENTS; s += 5) {
                befores[e] = other.steps().get(s - 1);
                currents[e++] = other.steps().get(s);
            }
        }
        if (request.numDecodeSteps() < STEP + 1) {
            throw new IllegalStateException("the benchmark request has only " + request.numDecodeSteps() + " decode steps");
        }
        history = new RequestHistory(layers, experts, k);
        int[] prefill = request.steps().get(0);
        for (int t = 0; t < request.prefillTokens(); t++) {
            history.observe(prefill, t * layers * k);
        }
        for (int s = 1; s <= STEP; s++) {
            history.observe(request.steps().get(s), 0);
        }
        before = request.steps().get(STEP - 1);
        current = request.steps().get(STEP);
        rows = new TransitionRows[layers];
        popularity = new LayerPopularity[layers];
        oldTables = new OldTokenTransitions[layers];
        oldPopularity = new double[layers][];
        for (int l = 0; l < layers; l++) {
            TransitionHeatmap one = new TransitionHeatmap(1, experts);
            for (int from = 0; from < experts; from++) {
                for (int to = 0; to < experts; to++) {
                    double c = table.count(l, from, to);
                    if (c != 0) {
                        one.add(0, from, to, c);
                    }
                }
            }
            rows[l] = TransitionRows.of(one, 0);
            oldTables[l] = new OldTokenTransitions(one);
            popularity[l] = new LayerPopularity(counts[l].clone());
            oldPopularity[l] = counts[l].clone();
        }
        predictor = new NextTokenPredictor(layers, experts, k);
    }

    /** The next event's tokens. */
    void nextEvent() {
        current = currents[next];
        before = befores[next];
        next = (next + 1) % EVENTS;
    }

    /** main db16c4d's RequestForecastProcessor.nextToken, per layer, on its TokenTransitions. */
    @Benchmark
    public void before(Blackhole out) {
        nextEvent();
        double[][] scores = new double[layers][];
        out.consume(oldNextToken(scores));
        out.consume(scores);
    }

    /** NextTokenPredictor, as the processor calls it now (output arrays allocated per event, as there). */
    @Benchmark
    public void after(Blackhole out) {
        nextEvent();
        double[][] scores = new double[layers][];
        out.consume(newNextToken(scores));
        out.consume(scores);
    }

    int[][] oldNextToken(double[][] scoresOut) {
        int[][] plan = new int[layers][];
        for (int l = 0; l < plan.length; l++) {
            OldTokenTransitions table = oldTables[l];
            double[] heat = new double[experts];
            if (current != null) {
                int[] cur = Arrays.copyOfRange(current, l * k, (l + 1) * k);
                int[] prev = before == null ? new int[0] : Arrays.copyOfRange(before, l * k, (l + 1) * k);
                for (int b = 0; b < k; b++) {
                    table.addRowProbabilitiesWith(cur[b], prev, cur, heat);
                }
            }
            double[] pop = oldPopularity[l].clone();
            for (int e = 0; e < experts; e++) {
                pop[e] += history.count(l, e);
            }
            double[] scores = BlendedPredictor.nextTokenScores(heat, history.decayed(l), pop);
            plan[l] = BlendedPredictor.top(scores, N);
            double[] picked = new double[plan[l].length];
            for (int i = 0; i < picked.length; i++) {
                picked[i] = scores[plan[l][i]];
            }
            scoresOut[l] = picked;
        }
        return plan;
    }

    int[][] newNextToken(double[][] scoresOut) {
        int m = Math.min(N, experts);
        int[][] plan = new int[layers][m];
        for (int l = 0; l < layers; l++) {
            scoresOut[l] = new double[m];
        }
        predictor.predict(rows, popularity, history, current, N, plan, scoresOut);
        return plan;
    }

    /** main db16c4d's stream-predictor TokenTransitions, verbatim: the "before" side's table. */
    static final class OldTokenTransitions {
        private final TransitionHeatmap counts;
        private final double[][] rows;

        OldTokenTransitions(TransitionHeatmap counts) {
            this.counts = counts;
            int experts = counts.experts();
            this.rows = new double[experts][];
            for (int e = 0; e < experts; e++) {
                if (counts.rowTotal(0, e) != 0) {
                    double[] p = new double[experts];
                    counts.addRowProbabilities(0, e, p);
                    rows[e] = p;
                }
            }
        }

        void addRowProbabilitiesWith(int expert, int[] previous, int[] current, double[] into) {
            int froms = 0;
            for (int a : previous) {
                froms += a == expert ? 1 : 0;
            }
            if (froms > 0) { // db16c4d's TransitionHeatmap.addRowProbabilitiesWith (weight 1)
                int experts = counts.experts();
                double total = counts.rowTotal(0, expert) + froms * (double) current.length;
                double[] extra = new double[experts];
                for (int b : current) {
                    extra[b] += froms;
                }
                for (int j = 0; j < experts; j++) {
                    into[j] += (counts.count(0, expert, j) + extra[j]) / total;
                }
                return;
            }
            double[] p = rows[expert];
            if (p != null) {
                for (int j = 0; j < p.length; j++) {
                    into[j] += p[j];
                }
            }
        }
    }
}
