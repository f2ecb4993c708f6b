package io.expertcast.bench;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.LayerPopularity;
import io.expertcast.core.predict.NextTokenPredictor;
import io.expertcast.core.predict.RequestHistory;
import io.expertcast.core.predict.TransitionRows;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.predictor.LayerTransitions;
import io.expertcast.predictor.PackedLayerTokens;
import io.expertcast.predictor.PredictorSettings;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * The floor of the predictor's design on this machine: the work per decode event that no Streams plumbing
 * adds to and no exact implementation of Insights 1-2 can skip, each measured alone on this thread (thread
 * CPU, best round of several, caches warm as they would never be live):
 * <ul>
 *   <li>the next-token forecast: the step into the request's history and {@link NextTokenPredictor#predict}
 *       for every MoE layer (n = 8), requests in turn as a batch interleaves them;</li>
 *   <li>the heatmap counting: the 2 x k x k cell adds per layer of {@link LayerTransitions}, batched and
 *       layer-major as the aggregator counts them.</li>
 * </ul>
 * Tables and popularity are learned from other synthetic requests of the same model first. bench predictor
 * prints these beside the predictor's CPU per event and the pass-through's, so the part of the gap that is
 * plumbing and the part that is the forecast itself are read off one run.
 */
final class ForecastFloor {
    /** Microseconds of thread CPU per decode event. */
    record Figures(double nextTokenUs, double countingUs) {
    }

    private static final int LEARNED = 200;
    private static final int N = 8;
    private static final int ROUNDS = 5;
    private static final int BATCH_EVENTS = 500; // a 100 ms hand-on at 5,000 decode events/s

    private final ModelShape model;
    private final int layers;
    private final int experts;
    private final int k;
    private final ThreadMXBean cpu = ManagementFactory.getThreadMXBean();

    ForecastFloor(ModelShape model) {
        this.model = model;
        this.layers = model.numMoeLayers();
        this.experts = model.numExperts();
        this.k = model.topK();
    }

    /**
     * Measures both on {@code learned} (tables and popularity) and {@code running} (the requests whose decode
     * steps are forecast and counted, {@code batch} at a time), each over {@code events} decode events a round.
     */
    Figures measure(Iterator<RequestTrace> learned, List<RequestTrace> running, int batch, int events) {
        LayerTransitions[] tables = new LayerTransitions[layers];
        for (int l = 0; l < layers; l++) {
            tables[l] = new LayerTransitions(experts, PredictorSettings.DEFAULT_HEATMAP_HALF_LIFE_TOKENS);
        }
        double[][] popularity = new double[layers][experts];
        for (int r = 0; r < LEARNED && learned.hasNext(); r++) {
            RequestTrace t = learned.next();
            LessonShards lessons = new LessonShards(model, PredictorSettings.DEFAULT_HEATMAP_SHARDS);
            int[] previous = null;
            for (int s = 0; s < t.numSteps(); s++) {
                int[] ids = t.steps().get(s);
                lessons.add(previous, ids, t.tokens(s));
                previous = LessonShards.lastToken(model, ids, t.tokens(s));
                for (int i = 0; i < t.tokens(s) * layers * k; i++) {
                    popularity[(i / k) % layers][ids[i]]++;
                }
            }
            for (ByteBuffer shard : lessons.drain()) {
                PackedLayerTokens.forEachLayer(shard, experts, k, (l, entries) -> tables[l].observe(k, entries));
            }
        }
        TransitionRows[] rows = new TransitionRows[layers];
        LayerPopularity[] pop = new LayerPopularity[layers];
        for (int l = 0; l < layers; l++) {
            rows[l] = TransitionRows.of(tables[l].token(), 0);
            pop[l] = new LayerPopularity(popularity[l]);
        }
        List<RequestTrace> decoding = new ArrayList<>();
        for (RequestTrace t : running) {
            if (t.numSteps() > 1 && decoding.size() < batch) {
                decoding.add(t);
            }
        }
        if (decoding.isEmpty()) {
            throw new IllegalArgumentException("no request with a decode step to forecast");
        }
        return new Figures(nextToken(rows, pop, decoding, events), counting(tables, decoding, events));
    }

    private double nextToken(TransitionRows[] rows, LayerPopularity[] pop, List<RequestTrace> decoding, int events) {
        int b = decoding.size();
        RequestHistory[] history = new RequestHistory[b];
        int[] step = new int[b];
        NextTokenPredictor predictor = new NextTokenPredictor(layers, experts, k);
        int[][] out = new int[layers][N];
        double[][] scores = new double[layers][N];
        double best = Double.MAX_VALUE;
        long sink = 0;
        for (int round = 0; round < ROUNDS; round++) {
            int done = 0;
            for (int r = 0; r < b; r++) { // every round starts each request afresh after its prefill
                RequestTrace t = decoding.get(r);
                history[r] = new RequestHistory(layers, experts, k);
                for (int token = 0; token < t.tokens(0); token++) {
                    history[r].observe(t.steps().get(0), token * layers * k);
                }
                step[r] = 1;
            }
            long t0 = cpu.getCurrentThreadCpuTime();
            for (int e = 0; e < events; e++) {
                int r = e % b;
                RequestTrace t = decoding.get(r);
                if (step[r] >= t.numSteps()) {
                    continue;
                }
                int[] ids = t.steps().get(step[r]++);
                history[r].observe(ids, 0);
                predictor.predict(rows, pop, history[r], ids, N, out, scores);
                sink += out[e % layers][0];
                done++;
            }
            best = Math.min(best, (cpu.getCurrentThreadCpuTime() - t0) / 1e3 / Math.max(1, done));
        }
        return sink == Long.MIN_VALUE ? -1 : best; // the sink keeps the predictions alive
    }

    private double counting(LayerTransitions[] tables, List<RequestTrace> decoding, int events) {
        // The decode steps as the request side hands them on: batches of BATCH_EVENTS events, round robin.
        List<ByteBuffer[]> batches = new ArrayList<>();
        int[] step = new int[decoding.size()];
        Arrays.fill(step, 1);
        int made = 0;
        while (made < events) {
            LessonShards lessons = new LessonShards(model, PredictorSettings.DEFAULT_HEATMAP_SHARDS);
            int inBatch = 0;
            for (int r = 0; r < decoding.size() && inBatch < BATCH_EVENTS && made < events; r++) {
                RequestTrace t = decoding.get(r);
                if (step[r] >= t.numSteps()) {
                    step[r] = 1;
                }
                int s = step[r]++;
                lessons.add(LessonShards.lastToken(model, t.steps().get(s - 1), t.tokens(s - 1)), t.steps().get(s), 1);
                inBatch++;
                made++;
            }
            batches.add(lessons.drain());
        }
        double best = Double.MAX_VALUE;
        for (int round = 0; round < ROUNDS; round++) {
            long t0 = cpu.getCurrentThreadCpuTime();
            for (ByteBuffer[] shards : batches) {
                for (ByteBuffer shard : shards) {
                    PackedLayerTokens.forEachLayer(shard.duplicate(), experts, k,
                            (l, entries) -> tables[l].observe(k, entries));
                }
            }
            best = Math.min(best, (cpu.getCurrentThreadCpuTime() - t0) / 1e3 / made);
        }
        return best;
    }
}
