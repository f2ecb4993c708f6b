package io.expertcast.bench;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.core.predict.TransitionRows;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.predictor.PublishedHeatmapView;
import io.expertcast.predictor.HeatmapRecords;
import io.expertcast.predictor.LayerTransitions;
import io.expertcast.predictor.PackedLayerTokens;
import io.expertcast.predictor.PredictorSettings;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictionLevel;
import io.expertcast.schemas.PredictionTable;
import io.expertcast.schemas.SuccessorRow;
import io.expertcast.schemas.Topics;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
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
 * The heatmap aggregator's three costs for DeepSeek-V3 (58 MoE layers, 256 experts, top-8), each as it was
 * (main d83aa0b: kept here, or still in the code as the path for other inputs) and as it is:
 * <ul>
 * <li>observing one 100 ms batch: {@value #EVENTS} decode events of {@value #REQUESTS} interleaved
 * requests, packed per layer shard as the request side sends them ({@value #SHARDS} shards), into the 58
 * layers' two decaying tables ({@link #observeEventOrder} vs {@link #observeLayerMajor} vs {@link #observeTableMajor});</li>
 * <li>publishing one layer's token->token table: its snapshot and its prediction table, as records
 * ({@link #publishBefore} vs {@link #publishAfter});</li>
 * <li>a reader rebuilding the top rows of one published snapshot ({@link #rowsBefore} vs
 * {@link #rowsAfter}).</li>
 * </ul>
 * Tables learned from {@value #LEARNED} calibrated synthetic requests (the stream of {@code bench
 * predictor}): nearly every one of a layer's 65536 cells is non-zero, as in a long run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class AggregatorBenchmark {
    static final int LEARNED = 200;
    static final int EVENTS = 500;
    static final int REQUESTS = 64;
    static final int SHARDS = PredictorSettings.DEFAULT_HEATMAP_SHARDS;
    static final int PUBLISHED_LAYER = 17;

    final ModelShape model = ModelCatalog.DEEPSEEK_V3;
    int layers;
    int experts;
    int k;
    LayerTransitions[] tables;
    ByteBuffer[] batch;
    HeatmapSnapshot published;

    @Setup
    public void setUp() {
        layers = model.numMoeLayers();
        experts = model.numExperts();
        k = model.topK();
        tables = new LayerTransitions[layers];
        for (int l = 0; l < layers; l++) {
            tables[l] = new LayerTransitions(experts, PredictorSettings.DEFAULT_HEATMAP_HALF_LIFE_TOKENS);
        }
        SyntheticTraceGenerator generator = new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), 11);
        Iterator<RequestTrace> learned = generator.requests(LEARNED);
        while (learned.hasNext()) {
            RequestTrace r = learned.next();
            LessonShards lessons = new LessonShards(model, SHARDS);
            int[] previous = null;
            for (int s = 0; s < r.numSteps(); s++) {
                int[] ids = r.steps().get(s);
                int tokens = r.tokens(s);
                lessons.add(previous, ids, tokens);
                previous = LessonShards.lastToken(model, ids, tokens);
            }
            for (ByteBuffer shard : lessons.drain()) {
                PackedLayerTokens.forEach(shard, experts, k, (l, p, t, n) -> tables[l].observe(k, p, t, n));
            }
        }
        // The batch: decode steps of REQUESTS other requests, round robin, as they interleave in the stream.
        Iterator<RequestTrace> others = new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), 12)
                .requests(REQUESTS);
        List<RequestTrace> running = new ArrayList<>();
        others.forEachRemaining(running::add);
        LessonShards lessons = new LessonShards(model, SHARDS);
        for (int e = 0, step = 1; e < EVENTS; step++) {
            for (int r = 0; r < running.size() && e < EVENTS; r++) {
                RequestTrace t = running.get(r);
                int s = 1 + (step - 1) % Math.max(1, t.numDecodeSteps());
                if (s >= t.numSteps()) {
                    continue;
                }
                lessons.add(LessonShards.lastToken(model, t.steps().get(s - 1), t.tokens(s - 1)), t.steps().get(s), 1);
                e++;
            }
        }
        batch = lessons.drain();
        published = HeatmapRecords.ofTransitions(model.id(), PUBLISHED_LAYER, HeatmapKind.TOKEN_TO_TOKEN,
                tables[PUBLISHED_LAYER].token(), 1);
    }

    /** The aggregator until d83aa0b: a batch's entries in event order. */
    @Benchmark
    public LayerTransitions[] observeEventOrder() {
        for (ByteBuffer shard : batch) {
            PackedLayerTokens.forEach(shard, experts, k, (l, p, t, n) -> tables[l].observe(k, p, t, n));
        }
        return tables;
    }

    /** Layer by layer, each layer's entries in event order (this branch's first step). */
    @Benchmark
    public LayerTransitions[] observeLayerMajor() {
        for (ByteBuffer shard : batch) {
            PackedLayerTokens.forEachByLayer(shard, experts, k, (l, p, t, n) -> tables[l].observe(k, p, t, n));
        }
        return tables;
    }

    /** The aggregator now: layer by layer, and within a layer table by table, entries in event order. */
    @Benchmark
    public LayerTransitions[] observeTableMajor() {
        for (ByteBuffer shard : batch) {
            PackedLayerTokens.forEachLayer(shard, experts, k, (l, entries) -> tables[l].observe(k, entries));
        }
        return tables;
    }

    @Benchmark
    public void publishBefore(Blackhole out) {
        TransitionHeatmap h = tables[PUBLISHED_LAYER].token();
        out.consume(OldPublication.ofTransitions(model.id(), PUBLISHED_LAYER, HeatmapKind.TOKEN_TO_TOKEN, h, 1));
        out.consume(OldPublication.table(model.id(), PUBLISHED_LAYER, PredictionLevel.TOKEN, h, 8, 1));
    }

    @Benchmark
    public void publishAfter(Blackhole out) {
        TransitionHeatmap h = tables[PUBLISHED_LAYER].token();
        out.consume(HeatmapRecords.ofTransitions(model.id(), PUBLISHED_LAYER, HeatmapKind.TOKEN_TO_TOKEN, h, 1));
        out.consume(HeatmapRecords.table(model.id(), PUBLISHED_LAYER, PredictionLevel.TOKEN, h, 8, 1));
    }

    /** For scale: the Avro serialization of the published snapshot (the sink's part, unchanged). */
    @Benchmark
    public byte[] publishSerialize() {
        return Topics.HEATMAPS.valueSerde().serializer().serialize(Topics.HEATMAPS.name(), published);
    }

    @Benchmark
    public TransitionRows rowsBefore() {
        return OldPublication.rows(published);
    }

    @Benchmark
    public TransitionRows rowsAfter() {
        return PublishedHeatmapView.rows(published);
    }

    /**
     * The "before" side: main d83aa0b's publication and rows (the table verbatim; the other two are the
     * paths the code keeps for other inputs).
     */
    static final class OldPublication {
        private OldPublication() {
        }

        /** d83aa0b's ofTransitions for every size: today's general path, kept for tables over MAX_CELLS. */
        static HeatmapSnapshot ofTransitions(String model, int layer, HeatmapKind kind, TransitionHeatmap h, long timeMs) {
            return HeatmapRecords.ofLargestCells(model, layer, kind, h, timeMs);
        }

        static PredictionTable table(String model, int layer, PredictionLevel level, TransitionHeatmap h, int width,
                                     long timeMs) {
            List<SuccessorRow> rows = new ArrayList<>();
            for (int from = 0; from < h.experts(); from++) {
                double total = h.rowTotal(0, from);
                if (total == 0) {
                    continue;
                }
                int[] top = h.successors(0, from, width);
                List<Integer> successors = new ArrayList<>(top.length);
                List<Double> probabilities = new ArrayList<>(top.length);
                for (int j : top) {
                    successors.add(j);
                    probabilities.add(h.count(0, from, j) / total);
                }
                rows.add(SuccessorRow.newBuilder().setExpert(from).setSuccessors(successors)
                        .setProbabilities(probabilities).build());
            }
            return PredictionTable.newBuilder().setModel(model).setLayer(layer).setLevel(level).setRows(rows)
                    .setEventTimeMs(timeMs).build();
        }

        /** d83aa0b's rows: today's cell-by-cell path, kept for snapshots in the row layout. */
        static TransitionRows rows(HeatmapSnapshot s) {
            return PublishedHeatmapView.cellRows(s);
        }
    }
}
