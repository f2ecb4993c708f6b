package io.expertcast.predictor;

import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.BlendedPredictor;
import io.expertcast.core.predict.DecodePlanner;
import io.expertcast.core.predict.LayerPopularity;
import io.expertcast.core.predict.PrefillHeatmap;
import io.expertcast.core.predict.RequestForecaster;
import io.expertcast.core.predict.RequestHistory;
import io.expertcast.core.predict.TransitionRows;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchPredictions;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.RequestDecodeStep;
import io.expertcast.schemas.RequestForecastState;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.DeadLetters;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Insights 1-2 per request (key = request id, validated selections): the adapter between Kafka and the
 * forecasting. The forecasts, plans, scores and Spearman are computed in core by the model's
 * {@link RequestForecaster} (as {@code evaluate-predictor} and the emulator's in-process forecast compute them);
 * what this processor does is records in and out:
 * <ul>
 *   <li>state in and out of the stores ({@link RequestStores}): a request's prefill heatmap and own history
 *       ({@link RequestHistory}), written by prefill chunks only; each decode step writes one small record, the
 *       first one with the two plans (so the large state is written once per request);</li>
 *   <li>at its first decode step the blended decode-phase plan ({@link BlendedPredictor#decodePlanScores}:
 *       prefill counts blended with the popularity of finished requests of the same workload tag) as a
 *       DECODE_PHASE prefetch command; at every decode step t a NEXT_TOKEN command for step t+1
 *       ({@link BlendedPredictor#nextTokenScores}: the global token->token table's rows of the experts just
 *       selected, the request's decayed history, global popularity);</li>
 *   <li>every prediction scored when its step arrives (per MoE layer), the score keyed by model; at the last
 *       step, the request's prefill/decode Spearman per layer too; every selection, per MoE layer (key
 *       model/layer shard), to the global heatmaps: both batched and durable across crashes
 *       ({@link DurableBatches});</li>
 *   <li>bad records to the dead-letter topic.</li>
 * </ul>
 *
 * <p>What the global side contributes is {@link PublishedHeatmapView}' snapshot, which never holds the
 * record being processed: the token->token table holds the request's own transitions up to the one
 * before its latest (the offline evaluation's table gets a decode token's transition one token late
 * too), and popularity is learned from finished requests only, to which the request's own counts are
 * added. With a publication after every record and requests one after another this is exactly the
 * offline evaluation ({@code LiveEqualsOfflineTest}).
 *
 * <p>Out-of-order or duplicated records become dead letters and are never counted; the state is
 * deleted on the request's last step, or after the settings' idle timeout without a step.
 */
final class RequestForecastProcessor implements Processor<String, SelectionEvent, String, ForecastOutput> {
    /** The blended decode-phase plan, the one sent as a prefetch command. */
    static final String DECODE_PLAN = "decode_plan";
    /** The prefill-only plan ({@link DecodePlanner}), scored beside it as a baseline. */
    static final String DECODE_PLAN_PREFILL_ONLY = "decode_plan_prefill_only";
    /** The blended next-token prediction. */
    static final String NEXT_TOKEN = "next_token";
    /**
     * Decoding requests a task keeps in memory (a DeepSeek-V3 request's history is 58 x 256 x 12 bytes,
     * about 180 KB); more in flight per task still work, rebuilt from the stores when evicted, but slower.
     */
    static final int DEFAULT_LIVE_REQUESTS = 1024;
    /**
     * How often the scores and the heatmap lessons of the records processed meanwhile are handed on, as one
     * record per key (see {@link ScoreSums}, {@link SelectionBatches}); with a heatmap publication after every
     * record (interval zero: tests), after every record too, so that publication stays deterministic.
     * Durable between hand-ons: {@link DurableBatches}.
     */
    static final Duration BATCH_INTERVAL = Duration.ofMillis(100);

    private final PredictorSettings settings;
    private ProcessorContext<String, ForecastOutput> context;
    private RequestStores requests;
    private PublishedHeatmapView global;
    /** Null: commands are forwarded in the transaction ({@link PrefetchDelivery#TRANSACTIONAL}). */
    private ImmediatePrefetchSender immediate;
    /** Per model, the forecasting and what it is handed of the global heatmaps, reused. */
    private final Map<String, RequestForecaster> forecasters = new HashMap<>();
    private final Map<String, GlobalInputs> globalInputs = new HashMap<>();
    private long latestEventTimeMs = Long.MIN_VALUE; // the newest event time this task has seen
    /** Scores and heatmap lessons not yet handed on (every {@link #BATCH_INTERVAL}, or per record). */
    private DurableBatches batches;

    private final ParsedHeatmapCache published;
    private final int liveRequests;
    /** Short prefills stored as their ids ({@link RequestStates}); false (tests) keeps every state dense. */
    private final boolean compactPrefill;

    RequestForecastProcessor(PredictorSettings settings, ParsedHeatmapCache published, int liveRequests,
                             boolean compactPrefill) {
        this.settings = settings;
        this.published = published;
        this.liveRequests = liveRequests;
        this.compactPrefill = compactPrefill;
    }

    @Override
    public void init(ProcessorContext<String, ForecastOutput> context) {
        this.context = context;
        // A task (re)initialised after a failure restores its stores: what memory held is rebuilt from them.
        this.requests = new RequestStores(settings.catalog(), context.getStateStore(PredictorTopology.REQUEST_STORE),
                context.getStateStore(PredictorTopology.REQUEST_STEPS_STORE), liveRequests);
        this.batches = new DurableBatches(context.getStateStore(PredictorTopology.PENDING_LESSONS_STORE));
        ReadOnlyKeyValueStore<String, byte[]> heatmaps =
                context.getStateStore(PredictorTopology.GLOBAL_HEATMAPS_STORE);
        this.global = new PublishedHeatmapView(heatmaps, published);
        if (immediate == null && PrefetchDelivery.of(context.appConfigs()) == PrefetchDelivery.IMMEDIATE) {
            immediate = ImmediatePrefetchSender.acquire(context.appConfigs());
        }
        Duration timeout = settings.requestIdleTimeout();
        // Checked on stream time and measured in the events' own time, so a replay of old traces expires
        // requests exactly as it would have live.
        context.schedule(timeout.dividedBy(4).isZero() ? timeout : timeout.dividedBy(4), PunctuationType.STREAM_TIME,
                this::dropIdleRequests);
        if (!perRecordBatches()) {
            context.schedule(BATCH_INTERVAL, PunctuationType.WALL_CLOCK_TIME, now -> batches.handOn(context::forward));
        }
    }

    /** A prefetch command, the way the application delivers them ({@link PrefetchDelivery}). */
    private void emit(Record<String, SelectionEvent> record, PrefetchCommand command) {
        if (immediate != null) {
            immediate.send(record.key(), command, record.timestamp());
        } else {
            context.forward(record.withValue(ForecastOutput.prefetch(command)));
        }
    }

    @Override
    public void close() {
        if (immediate != null) {
            immediate.close();
            immediate = null;
        }
    }

    private boolean perRecordBatches() {
        return settings.heatmapPublishInterval().isZero();
    }

    /**
     * Drops the state of every request with no step for longer than the idle timeout (its last step
     * never came: a client that went away, a replay cut short) and says so on the dead-letter topic.
     */
    private void dropIdleRequests(long streamTimeMs) {
        if (latestEventTimeMs == Long.MIN_VALUE) {
            return;
        }
        Map<String, Long> idle = requests.idleSince(latestEventTimeMs - settings.requestIdleTimeout().toMillis());
        for (var entry : idle.entrySet()) {
            String requestId = entry.getKey();
            requests.delete(requestId);
            context.forward(new Record<>(requestId, ForecastOutput.deadLetter(DeadLetters.of(settings.applicationName(),
                    Topics.SELECTIONS.name(), -1, -1L, "request " + requestId + " had no step for more than "
                            + settings.requestIdleTimeout().toMinutes() + " min (last at event time "
                            + entry.getValue() + "); its predictor state was dropped",
                    requestId.getBytes(StandardCharsets.UTF_8), null)), streamTimeMs));
        }
    }

    @Override
    public void process(Record<String, SelectionEvent> record) {
        processEvent(record);
        if (perRecordBatches()) {
            batches.endEvent(record.timestamp(), false);
            batches.handOn(context::forward);
        } else {
            batches.endEvent(record.timestamp(), true);
        }
    }

    private void processEvent(Record<String, SelectionEvent> record) {
        SelectionEvent event = record.value();
        latestEventTimeMs = Math.max(latestEventTimeMs, event.getEventTimeMs());
        // Validated upstream: the model is in the catalog and the ids fit its shape.
        ModelShape shape = settings.catalog().byId(event.getModel()).orElseThrow();
        String requestId = requestKey(event);
        if (!requestId.equals(record.key())) {
            // The store is partitioned by the record key: a mismatched key would split a request's state.
            reject(record, "record key '" + record.key() + "' is not the request id '" + requestId
                    + "' (source/id for a source that is not empty, as Topics.requestKey makes it)");
            return;
        }
        if (event.getPhase() == Phase.PREFILL) {
            RequestForecastState state = requests.prefill(requestId);
            if (state != null && !state.getModel().equals(event.getModel())) {
                rejectModel(record, state.getModel());
            } else {
                onPrefillChunk(record, shape, state);
            }
        } else {
            LiveRequest r = requests.live(requestId);
            if (r != null && !r.model.equals(event.getModel())) {
                rejectModel(record, r.model);
            } else {
                onDecodeStep(record, shape, r);
            }
        }
    }

    /**
     * A request's identity in this processor's stores and on moe.prefetch: its source and id
     * ({@link Topics#requestKey}), so two engines (or replays) whose request ids collide stay apart.
     */
    private static String requestKey(SelectionEvent event) {
        return Topics.requestKey(event.getSource(), event.getRequestId());
    }

    private void rejectModel(Record<String, SelectionEvent> record, String model) {
        reject(record, "request " + record.value().getRequestId() + " is of model " + model + ", event says "
                + record.value().getModel());
    }

    private void onPrefillChunk(Record<String, SelectionEvent> record, ModelShape shape,
                                RequestForecastState state) {
        SelectionEvent event = record.value();
        String requestId = requestKey(event);
        if (state != null && requests.decodeBegan(requestId, state)) {
            reject(record, "prefill chunk at token offset " + event.getTokenOffset() + " after decode began");
            return;
        }
        int expectedOffset = state == null ? 0 : state.getPrefillTokens();
        if (event.getTokenOffset() != expectedOffset) {
            reject(record, "duplicated or out-of-order prefill chunk at token offset " + event.getTokenOffset()
                    + ", expected " + expectedOffset);
            return;
        }
        PrefillHeatmap heatmap = state == null
                ? new PrefillHeatmap(shape.numMoeLayers(), shape.numExperts(), shape.topK())
                : RequestStates.heatmap(shape, state);
        RequestHistory history = RequestStates.history(shape, state);
        int[] ids = ids(event);
        heatmap.add(ids);
        int perToken = shape.numMoeLayers() * shape.topK();
        for (int t = 0; t < ids.length / perToken; t++) {
            history.observe(ids, t * perToken);
        }
        int[] previous = state == null ? null : RequestStates.lastToken(state);
        forwardLayerSelections(record, shape, previous, ids, event.getLastStep() ? history : null);
        if (event.getLastStep()) {
            // A request without decode steps: nothing to plan or score; its counts went to popularity.
            requests.delete(requestId);
            return;
        }
        RequestForecastState.Builder next = state == null ? RequestForecastState.newBuilder()
                .setModel(event.getModel())
                .setRequestId(event.getRequestId()) : RequestForecastState.newBuilder(state);
        requests.putPrefill(requestId, RequestStates.withPrefill(next, shape, state, ids, heatmap, history,
                        compactPrefill)
                .setPrefillTokens(heatmap.tokens())
                .setLastToken(toList(Arrays.copyOfRange(ids, ids.length - perToken, ids.length)))
                .setEventTimeMs(event.getEventTimeMs())
                .build());
    }

    private void onDecodeStep(Record<String, SelectionEvent> record, ModelShape shape, LiveRequest r) {
        SelectionEvent event = record.value();
        int step = event.getStep();
        String requestId = requestKey(event);
        if (r == null) {
            reject(record, "decode step " + step + " before its prefill");
            return;
        }
        if (step <= r.lastScoredStep) {
            reject(record, "duplicated step " + step + " (last scored step " + r.lastScoredStep + ")");
            return;
        }
        int layers = shape.numMoeLayers();
        RequestHistory history = r.history;
        int[] previous = r.lastToken;
        int[] ids = ids(event);
        // The prefill heatmap is read from the store only where it is used: the plans at the first decode
        // step, the Spearman at the last. The state is never written again after prefill (~197 KB for
        // DeepSeek-V3): the plans go with the first step's small record.
        boolean first = r.blendedPlan == null;
        RequestForecastState state = null;
        if (first) {
            state = requests.prefill(requestId);
            PrefillHeatmap heatmap = RequestStates.heatmap(shape, state);
            double[][] planScores = new double[layers][];
            r.blendedPlan = blendedPlan(event, shape, history, heatmap.tokens(), planScores);
            r.prefillOnlyPlan = forecaster(shape).prefillOnlyPlan(heatmap);
            // The prediction for step 1 is the one the end of prefill allows (the last chunk is not flagged,
            // so it is made here, from the state before this step; the global side already holds the prefill).
            r.nextTokenPlan = nextToken(event, shape, history, previous, new double[layers][]);
            emit(record, prefetchCommand(event, PrefetchScope.DECODE_PHASE, step, MemoryTier.HBM, r.blendedPlan,
                    planScores));
        }
        long requestCount = first ? 1 : 0;
        double[] spearman = null;
        if (event.getLastStep()) {
            spearman = forecaster(shape).spearman(RequestStates.heatmap(shape, first ? state : requests.prefill(requestId)), history,
                    ids);
        }
        forecaster(shape).step(ids);
        score(record, shape, DECODE_PLAN, r.blendedPlan, requestCount, spearman);
        score(record, shape, DECODE_PLAN_PREFILL_ONLY, r.prefillOnlyPlan, requestCount, null);
        score(record, shape, NEXT_TOKEN, r.nextTokenPlan, requestCount, null);

        history.observe(ids, 0);
        forwardLayerSelections(record, shape, previous, ids, event.getLastStep() ? history : null);
        if (event.getLastStep()) {
            requests.delete(requestId);
            return;
        }
        double[][] nextScores = new double[layers][];
        int[][] nextPlan = nextToken(event, shape, history, ids, nextScores);
        emit(record, prefetchCommand(event, PrefetchScope.NEXT_TOKEN, step + 1, MemoryTier.HBM, nextPlan, nextScores));
        RequestDecodeStep.Builder stored = RequestDecodeStep.newBuilder()
                .setStep(step)
                .setExpertIds(event.getExpertIds().duplicate())
                .setNextTokenExperts(DecodeSteps.encode(nextPlan))
                .setEventTimeMs(event.getEventTimeMs());
        if (first) { // the only record with the plans (a first step that is also the last stores nothing)
            stored.setBlendedPlan(DecodeSteps.encode(r.blendedPlan))
                    .setPrefillOnlyPlan(DecodeSteps.encode(r.prefillOnlyPlan));
        }
        requests.putStep(requestId, stored.build());
        r.scored(step, ids, nextPlan, event.getEventTimeMs());
    }

    /**
     * The blended decode plan ({@link BlendedPredictor#decodePlanScores}); tag popularity from finished
     * requests: the first of the request's tag keys with counts at layer 0, else all finished requests.
     */
    private int[][] blendedPlan(SelectionEvent event, ModelShape shape, RequestHistory history, int prefillTokens,
                                double[][] scoresOut) {
        String model = event.getModel();
        int experts = shape.numExperts();
        String tag = null;
        for (String key : BlendedPredictor.tagKeys(event.getBenchmark(), event.getSubject(), event.getLanguage())) {
            if (global.popularity(model, 0, key, experts).total() > 0) {
                tag = key;
                break;
            }
        }
        LayerPopularity[] tagPopularity = new LayerPopularity[shape.numMoeLayers()];
        for (int l = 0; l < tagPopularity.length; l++) {
            tagPopularity[l] = global.popularity(model, l, tag, experts);
        }
        return forecaster(shape).decodePlan(history, prefillTokens, tagPopularity, scoresOut);
    }

    /**
     * The blended next-token prediction ({@link BlendedPredictor#nextTokenScores}) after {@code history}'s
     * last token {@code current}: the rows of {@code current}'s experts in the published token->token table
     * (which holds the request's own transitions up to the one before its latest, as the offline evaluation's
     * table does); popularity = finished requests + own.
     * Computed by the model's {@link RequestForecaster}.
     */
    private int[][] nextToken(SelectionEvent event, ModelShape shape, RequestHistory history, int[] current,
                              double[][] scoresOut) {
        String model = event.getModel();
        int layers = shape.numMoeLayers();
        int experts = shape.numExperts();
        GlobalInputs inputs = globalInputs.computeIfAbsent(model, m -> new GlobalInputs(layers));
        for (int l = 0; l < layers; l++) {
            inputs.rows[l] = global.tokenTransitions(model, l, layers, experts);
            inputs.popularity[l] = global.popularity(model, l, layers, experts);
        }
        return forecaster(shape).nextToken(inputs.rows, inputs.popularity, history, current, scoresOut);
    }

    /** The forecasting of one model's requests, with its reused scratch. */
    private RequestForecaster forecaster(ModelShape shape) {
        return forecasters.computeIfAbsent(shape.id(), m -> new RequestForecaster(shape, settings.n()));
    }

    /** What {@link #nextToken} hands the forecaster of a model, reused at every decode step. */
    private static final class GlobalInputs {
        final TransitionRows[] rows;
        final LayerPopularity[] popularity;

        GlobalInputs(int layers) {
            rows = new TransitionRows[layers];
            popularity = new LayerPopularity[layers];
        }
    }

    /** Scores the step set by {@code forecaster.step} against one prediction, into the batch's sums (keyed by model). */
    private void score(Record<String, SelectionEvent> record, ModelShape shape, String predictor, int[][] predicted,
                       long requestCount, double[] spearman) {
        SelectionEvent event = record.value();
        int layers = shape.numMoeLayers();
        int[] layerHits = new int[layers]; // exactly the model's layers: the sums take their length
        int[] layerPredicted = new int[layers];
        forecaster(shape).hits(predicted, layerHits, layerPredicted);
        String tag = event.getBenchmark() == null ? "*" : event.getBenchmark();
        batches.add(new PendingLessons.Score(event.getModel(), predictor, tag, settings.n(), shape.topK(), layerHits,
                layerPredicted, requestCount, spearman, event.getEventTimeMs()), record.timestamp());
    }

    /**
     * What the event teaches the global heatmaps: per MoE layer the event's tokens, the request's previous
     * token there, the same tokens at the next MoE layer, into the batch of the layer's shard (key
     * model/shard, layer l in shard l mod shards); with {@code finished}, at once, one record per shard of
     * the request's counts and its tag keys (popularity is learned from finished requests).
     */
    private void forwardLayerSelections(Record<String, SelectionEvent> record, ModelShape shape, int[] previous,
                                        int[] ids, RequestHistory finished) {
        SelectionEvent event = record.value();
        int layers = shape.numMoeLayers();
        int k = shape.topK();
        int shards = Math.min(settings.heatmapShards(), layers);
        batches.add(new PendingLessons.Selection(event.getModel(), layers, shape.numExperts(), k, shards, previous, ids,
                event.getEventTimeMs()), record.timestamp());
        if (finished == null) {
            return;
        }
        List<String> tags = BlendedPredictor.tagKeys(event.getBenchmark(), event.getSubject(), event.getLanguage());
        for (var counts : SelectionBatches.finishedCounts(event.getModel(), shape, shards, finished, tags,
                event.getEventTimeMs())) {
            context.forward(record.withKey(counts.key).withValue(ForecastOutput.layerSelections(counts.value)));
        }
    }

    /** Layers are MoE layer indices (0 .. numMoeLayers-1, the order of the packed ids); packed (v2). */
    private static PrefetchCommand prefetchCommand(SelectionEvent event, PrefetchScope scope, int targetStep,
                                                   MemoryTier tier, int[][] experts, double[][] scores) {
        // Both go to HBM: the decode phase is far ahead, and token-level predictions drive HBM copies
        // (Insight 2; layer-level rows, published as prediction tables, drive the LLC).
        return PrefetchPredictions.pack(PrefetchCommand.newBuilder()
                .setModel(event.getModel())
                .setRequestId(event.getRequestId())
                .setScope(scope)
                .setTargetStep(targetStep)
                .setTier(tier)
                .setSourcePassId(event.getPassId())
                .setEventTimeMs(event.getEventTimeMs()), experts, scores)
                .build();
    }

    private static int[] ids(SelectionEvent event) {
        return unpack(event.getExpertIds());
    }

    static int[] unpack(ByteBuffer packed) {
        ByteBuffer buffer = packed.duplicate();
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return ExpertIds.unpack(bytes);
    }

    // Plain loops, not streams: these run for 58 layers at every decode step.
    static List<Integer> toList(int[] values) {
        List<Integer> list = new ArrayList<>(values.length);
        for (int v : values) {
            list.add(v);
        }
        return list;
    }

    private void reject(Record<String, SelectionEvent> record, String reason) {
        Optional<RecordMetadata> meta = context.recordMetadata();
        byte[] value = Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(), record.value());
        context.forward(record.withValue(ForecastOutput.deadLetter(DeadLetters.of(settings.applicationName(),
                meta.map(RecordMetadata::topic).orElse(Topics.SELECTIONS.name()),
                meta.map(RecordMetadata::partition).orElse(-1),
                meta.map(RecordMetadata::offset).orElse(-1L),
                reason,
                record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8),
                value))));
    }
}
