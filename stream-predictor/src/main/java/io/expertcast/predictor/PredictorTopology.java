package io.expertcast.predictor;

import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.RequestDecodeStep;
import io.expertcast.schemas.RequestForecastState;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.ValidatedSelections;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.api.ProcessorSupplier;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * The predictor's topology (Insights 1-2):
 * <pre>
 * moe.selections (key request id, validated) -> {@link RequestForecastProcessor} [REQUEST_STORE, REQUEST_STEPS_STORE,
 *                                                  PENDING_LESSONS_STORE, reads GLOBAL_HEATMAPS_STORE]
 *   -> moe.prefetch: DECODE_PHASE (blended plan, first decode step) and NEXT_TOKEN (step t+1, every step t)
 *   -> scores, repartitioned by model (SCORES_REPARTITION) -> {@link DecodeAccuracyAggregator} [ACCURACY_STORE]
 *        -> moe.predictor-metrics (key model/predictor/tag, every publish interval)
 *   -> layer selections (key model/layer shard) -> moe.heatmap-lessons (retained)
 *        -> {@link LayerHeatmapProcessor} [counts in memory; a key restored from its whole snapshots in
 *           GLOBAL_HEATMAPS_STORE, then the lessons after the snapshots' offsets replayed from moe.heatmap-lessons]
 *        -> moe.heatmaps, moe.prediction-tables; a record it cannot count -> moe.dead-letter
 *   -> rejected records -> moe.dead-letter
 * moe.heatmaps -> {@link HeatmapStoreLoader} -> GLOBAL_HEATMAPS_STORE (a global store of the topic's bytes:
 *   every instance holds every model/layer) and {@link ParsedHeatmapCache} (each snapshot parsed once, shared by the
 *   instance's tasks)
 * </pre>
 * The request side (moe.selections to moe.heatmap-lessons, and the accuracy) and the aggregator (moe.heatmap-lessons
 * to moe.heatmaps) meet only on topics: {@link PredictorRole} runs either alone, as an application of its own.
 */
public final class PredictorTopology {
    /**
     * Request id -> {@link RequestForecastState} (the prefill heatmap and the request's history as of the end
     * of prefill, ~197 KB for DeepSeek-V3, or while smaller the prefill's ids: {@link RequestStates}): written by
     * the prefill chunks only, read at the first and the last
     * decode step; what decode adds, plans included, is in {@link #REQUEST_STEPS_STORE}.
     */
    public static final String REQUEST_STORE = "predictor-request-forecasts";
    /**
     * {@link DecodeSteps#key} (request id, step) -> {@link io.expertcast.schemas.RequestDecodeStep}: what each
     * scored decode step adds to a request's state, so a step writes a few hundred bytes, not the whole state;
     * the first step's record also carries the request's two decode-phase plans (blended, prefill-only).
     */
    public static final String REQUEST_STEPS_STORE = "predictor-request-steps";
    /** {@code model/predictor/tag} -> cumulative accuracy ({@link PredictorMetrics}); tag * = all requests. */
    public static final String ACCURACY_STORE = "predictor-decode-accuracy";
    /**
     * moe.heatmaps key -> the {@link HeatmapSnapshot}'s bytes as published, every key: a global store from
     * moe.heatmaps. Read by the per-request side (through {@link ParsedHeatmapCache}), by the aggregator when it
     * restores a key, and by interactive queries.
     */
    public static final String GLOBAL_HEATMAPS_STORE = "predictor-global-heatmaps";
    /** Name of the repartition topic carrying per-step scores keyed by model. */
    public static final String SCORES_REPARTITION = "predictor-decode-scores-by-model";
    /**
     * What the events added to the request side's batches since they were last handed on, written before every
     * commit ({@link PendingBatchesStore}): so the batches are exactly what the committed offsets say.
     */
    public static final String PENDING_LESSONS_STORE = "predictor-pending-lessons";

    private PredictorTopology() {
    }

    public static void build(StreamsBuilder builder, PredictorSettings settings) {
        build(builder, settings, RequestForecastProcessor.DEFAULT_LIVE_REQUESTS);
    }

    /** With at most {@code liveRequests} decoding requests per task in memory (tests: 1 rebuilds at every step). */
    static void build(StreamsBuilder builder, PredictorSettings settings, int liveRequests) {
        build(builder, settings, liveRequests, true);
    }

    /**
     * As above; {@code compactPrefill} false (tests) stores every request's prefill dense ({@link RequestStates}).
     * Builds the parts {@code settings.role()} runs, in the order the whole topology has always had them (so an
     * instance of role {@link PredictorRole#ALL} keeps its tasks' ids).
     */
    static void build(StreamsBuilder builder, PredictorSettings settings, int liveRequests, boolean compactPrefill) {
        PredictorRole role = settings.role();
        KStream<String, SelectionEvent> selections = role.runsRequests()
                ? ValidatedSelections.stream(builder, settings.catalog(), settings.applicationName()) : null;
        ParsedHeatmapCache published = globalHeatmaps(builder);
        KStream<String, PredictorMetrics> scores = null;
        if (role.runsRequests()) {
            scores = requestSide(builder, settings, selections, published, liveRequests, compactPrefill);
        }
        if (role.runsHeatmaps()) {
            aggregator(builder, settings);
        }
        if (scores != null) {
            accuracy(scores, settings);
        }
    }

    /**
     * The global heatmaps' store (every instance holds every model/layer of moe.heatmaps), with its own processor
     * rather than a global table, so that every snapshot is parsed once per instance when it arrives, not by every
     * task on every read.
     */
    private static ParsedHeatmapCache globalHeatmaps(StreamsBuilder builder) {
        ParsedHeatmapCache published = new ParsedHeatmapCache();
        builder.addGlobalStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(GLOBAL_HEATMAPS_STORE),
                        Topics.HEATMAPS.keySerde(), Serdes.ByteArray()).withLoggingDisabled(),
                Topics.HEATMAPS.name(),
                Consumed.with(Topics.HEATMAPS.keySerde(), Serdes.ByteArray()).withName("global-heatmaps-source"),
                () -> new HeatmapStoreLoader(published));
        return published;
    }

    /**
     * The request side: forecasts and commands, dead letters, the lessons to moe.heatmap-lessons; returns the
     * per-step scores, for {@link #accuracy}.
     */
    private static KStream<String, PredictorMetrics> requestSide(StreamsBuilder builder, PredictorSettings settings,
                                                                 KStream<String, SelectionEvent> selections,
                                                                 ParsedHeatmapCache published, int liveRequests,
                                                                 boolean compactPrefill) {
        SerdeFactory serdes = SerdeFactory.defaultFactory();
        StoreBuilder<?> requestStore = Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(REQUEST_STORE),
                Serdes.String(), serdes.serde(RequestForecastState.class));
        StoreBuilder<?> stepStore = Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(REQUEST_STEPS_STORE),
                Serdes.String(), serdes.serde(RequestDecodeStep.class));
        StoreBuilder<?> pendingStore = PendingBatchesStore.builder(PENDING_LESSONS_STORE);
        KStream<String, ForecastOutput> outputs = selections.process(new ProcessorSupplier<>() {
            @Override
            public RequestForecastProcessor get() {
                return new RequestForecastProcessor(settings, published, liveRequests, compactPrefill);
            }

            @Override
            public Set<StoreBuilder<?>> stores() {
                return Set.of(requestStore, stepStore, pendingStore);
            }
        }, Named.as("request-forecast"));

        var branches = outputs.split(Named.as("forecast-"))
                .branch((k, v) -> v.prefetch() != null, Branched.as("prefetch"))
                .branch((k, v) -> v.score() != null, Branched.as("score"))
                .branch((k, v) -> v.layerSelections() != null, Branched.as("layer"))
                .defaultBranch(Branched.as("dead-letter"));

        branches.get("forecast-prefetch")
                .mapValues(ForecastOutput::prefetch, Named.as("prefetch-command"))
                .to(Topics.PREFETCH.name(), Produced.with(Topics.PREFETCH.keySerde(), Topics.PREFETCH.valueSerde())
                        .withName("prefetch-sink"));

        branches.get("forecast-dead-letter")
                .map((k, v) -> KeyValue.pair(k == null ? null : k.getBytes(StandardCharsets.UTF_8), v.deadLetter()),
                        Named.as("forecast-dead-letter-record"))
                .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                        Topics.DEAD_LETTER.valueSerde()).withName("forecast-dead-letter-sink"));

        // A topic of our own, retained, rather than a repartition topic (which Streams purges once committed):
        // a restarted aggregator replays it from its snapshots' offsets.
        branches.get("forecast-layer")
                .mapValues(ForecastOutput::layerSelections, Named.as("layer-selections"))
                .to(Topics.HEATMAP_LESSONS.name(), Produced.with(Topics.HEATMAP_LESSONS.keySerde(),
                        Topics.HEATMAP_LESSONS.valueSerde()).withName("heatmap-lessons-sink"));
        return branches.get("forecast-score").mapValues(ForecastOutput::score, Named.as("decode-score"));
    }

    /** The heatmap aggregator: moe.heatmap-lessons in; moe.heatmaps, moe.prediction-tables and dead letters out. */
    private static void aggregator(StreamsBuilder builder, PredictorSettings settings) {
        var publications = builder.stream(Topics.HEATMAP_LESSONS.name(), Consumed.with(
                        Topics.HEATMAP_LESSONS.keySerde(), Topics.HEATMAP_LESSONS.valueSerde())
                        .withName("heatmap-lessons-source"))
                .process(() -> new LayerHeatmapProcessor(settings), Named.as("layer-heatmaps"))
                .split(Named.as("heatmap-"))
                .branch((k, v) -> v.snapshot() != null || v.deleted(), Branched.as("snapshot"))
                .branch((k, v) -> v.deadLetter() != null, Branched.as("dead-letter"))
                .defaultBranch(Branched.as("table"));
        publications.get("heatmap-dead-letter")
                .map((k, v) -> KeyValue.pair(k == null ? null : k.getBytes(StandardCharsets.UTF_8), v.deadLetter()),
                        Named.as("heatmap-dead-letter-record"))
                .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                        Topics.DEAD_LETTER.valueSerde()).withName("heatmap-dead-letter-sink"));
        publications.get("heatmap-snapshot")
                .mapValues(HeatmapAggregatorOutput::snapshot, Named.as("heatmap-snapshot-value"))
                .to(Topics.HEATMAPS.name(), Produced.with(Topics.HEATMAPS.keySerde(), Topics.HEATMAPS.valueSerde())
                        .withName("heatmaps-sink"));
        publications.get("heatmap-table")
                .mapValues(HeatmapAggregatorOutput::table, Named.as("prediction-table-value"))
                .to(Topics.PREDICTION_TABLES.name(), Produced.with(Topics.PREDICTION_TABLES.keySerde(),
                        Topics.PREDICTION_TABLES.valueSerde()).withName("prediction-tables-sink"));
    }

    /** The per-step scores, repartitioned by model, summed into the accuracy: moe.predictor-metrics. */
    private static void accuracy(KStream<String, PredictorMetrics> scores, PredictorSettings settings) {
        Serde<PredictorMetrics> metricsSerde = Topics.PREDICTOR_METRICS.valueSerde();
        StoreBuilder<?> accuracyStore = Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(ACCURACY_STORE),
                Serdes.String(), metricsSerde);
        scores.repartition(Repartitioned.with(Serdes.String(), metricsSerde).withName(SCORES_REPARTITION))
                .process(new ProcessorSupplier<String, PredictorMetrics, String, PredictorMetrics>() {
                    @Override
                    public DecodeAccuracyAggregator get() {
                        return new DecodeAccuracyAggregator(settings.publishInterval());
                    }

                    @Override
                    public Set<StoreBuilder<?>> stores() {
                        return Set.of(accuracyStore);
                    }
                }, Named.as("decode-accuracy"))
                .to(Topics.PREDICTOR_METRICS.name(), Produced.with(Topics.PREDICTOR_METRICS.keySerde(), metricsSerde)
                        .withName("predictor-metrics-sink"));
    }
}
