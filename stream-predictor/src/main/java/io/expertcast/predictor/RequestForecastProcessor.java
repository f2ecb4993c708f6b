package io.expertcast.predictor;

import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.DecodePlan;
import io.expertcast.core.predict.DecodePlanner;
import io.expertcast.core.predict.PrefillHeatmap;
import io.expertcast.core.predict.RecallAtN;
import io.expertcast.schemas.LayerPrediction;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.RequestForecastState;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.DeadLetters;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Insight 1 per request (key = request id, validated selections): accumulates the prefill heatmap
 * in {@link PredictorTopology#REQUEST_STORE}; at the request's first decode step plans the decode
 * phase (top-n experts per MoE layer, {@link DecodePlanner}), emits a DECODE_PHASE prefetch command
 * and keeps the plan; scores every decode step against the plan with the same core code as
 * {@link io.expertcast.core.predict.DecodePlanEvaluator} and forwards the score keyed by model.
 * Out-of-order or duplicated records become dead letters and are never counted; the state is
 * deleted on the request's last step, or after the settings' idle timeout without a step.
 *
 * <p>Outputs: a prefetch command keyed by request id, a {@link PredictorMetrics} delta keyed by
 * model, or a dead letter keyed by request id.
 */
final class RequestForecastProcessor implements Processor<String, SelectionEvent, String, ForecastOutput> {
    static final String PREDICTOR = "decode_plan";

    private final PredictorSettings settings;
    private final DecodePlanner planner;
    private ProcessorContext<String, ForecastOutput> context;
    private KeyValueStore<String, RequestForecastState> requests;
    private long latestEventTimeMs = Long.MIN_VALUE; // the newest event time this task has seen

    RequestForecastProcessor(PredictorSettings settings) {
        this.settings = settings;
        this.planner = new DecodePlanner(settings.n());
    }

    @Override
    public void init(ProcessorContext<String, ForecastOutput> context) {
        this.context = context;
        this.requests = context.getStateStore(PredictorTopology.REQUEST_STORE);
        Duration timeout = settings.requestIdleTimeout();
        // Checked on stream time and measured in the events' own time, so a replay of old traces expires
        // requests exactly as it would have live.
        context.schedule(timeout.dividedBy(4).isZero() ? timeout : timeout.dividedBy(4), PunctuationType.STREAM_TIME,
                this::dropIdleRequests);
    }

    /**
     * Drops the state of every request with no step for longer than the idle timeout (its last step
     * never came: a client that went away, a replay cut short) and says so on the dead-letter topic.
     */
    private void dropIdleRequests(long streamTimeMs) {
        if (latestEventTimeMs == Long.MIN_VALUE) {
            return;
        }
        long cutoff = latestEventTimeMs - settings.requestIdleTimeout().toMillis();
        List<String> idle = new ArrayList<>();
        try (KeyValueIterator<String, RequestForecastState> all = requests.all()) {
            while (all.hasNext()) {
                var entry = all.next();
                if (entry.value.getEventTimeMs() < cutoff) {
                    idle.add(entry.key);
                }
            }
        }
        for (String requestId : idle) {
            RequestForecastState state = requests.delete(requestId);
            context.forward(new Record<>(requestId, ForecastOutput.deadLetter(DeadLetters.of(settings.applicationName(),
                    Topics.SELECTIONS.name(), -1, -1L, "request " + requestId + " had no step for more than "
                            + settings.requestIdleTimeout().toMinutes() + " min (last at event time "
                            + state.getEventTimeMs() + "); its predictor state was dropped",
                    requestId.getBytes(StandardCharsets.UTF_8), null)), streamTimeMs));
        }
    }

    @Override
    public void process(Record<String, SelectionEvent> record) {
        SelectionEvent event = record.value();
        latestEventTimeMs = Math.max(latestEventTimeMs, event.getEventTimeMs());
        // Validated upstream: the model is in the catalog and the ids fit its shape.
        ModelShape shape = settings.catalog().byId(event.getModel()).orElseThrow();
        String requestId = event.getRequestId();
        if (!requestId.equals(record.key())) {
            // The store is partitioned by the record key: a mismatched key would split a request's state.
            reject(record, "record key '" + record.key() + "' is not the request id '" + requestId + "'");
            return;
        }
        RequestForecastState state = requests.get(requestId);
        if (state != null && !state.getModel().equals(event.getModel())) {
            reject(record, "request " + requestId + " is of model " + state.getModel() + ", event says "
                    + event.getModel());
        } else if (event.getPhase() == Phase.PREFILL) {
            onPrefillChunk(record, shape, state);
        } else {
            onDecodeStep(record, shape, state);
        }
    }

    private void onPrefillChunk(Record<String, SelectionEvent> record, ModelShape shape,
                                RequestForecastState state) {
        SelectionEvent event = record.value();
        if (state != null && state.getPlannedExperts() != null) {
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
                : heatmapOf(shape, state);
        heatmap.add(ids(event));
        if (event.getLastStep()) {
            // A request without decode steps: nothing to plan or score.
            requests.delete(event.getRequestId());
            return;
        }
        requests.put(event.getRequestId(), RequestForecastState.newBuilder()
                .setModel(event.getModel())
                .setRequestId(event.getRequestId())
                .setPrefillTokens(heatmap.tokens())
                .setHeatmap(toList(heatmap.counts()))
                .setPlannedExperts(null)
                .setLastScoredStep(0)
                .setEventTimeMs(event.getEventTimeMs())
                .build());
    }

    private void onDecodeStep(Record<String, SelectionEvent> record, ModelShape shape, RequestForecastState state) {
        SelectionEvent event = record.value();
        int step = event.getStep();
        if (state == null) {
            reject(record, "decode step " + step + " before its prefill");
            return;
        }
        if (step <= state.getLastScoredStep()) {
            reject(record, "duplicated step " + step + " (last scored step " + state.getLastScoredStep() + ")");
            return;
        }
        PrefillHeatmap heatmap = heatmapOf(shape, state);
        RecallAtN score = new RecallAtN();
        DecodePlan plan;
        if (state.getPlannedExperts() == null) {
            plan = planner.plan(heatmap);
            score.addRequest();
            context.forward(record.withValue(ForecastOutput.prefetch(prefetchCommand(event, plan))));
        } else {
            plan = planOf(heatmap, state.getPlannedExperts());
        }
        plan.score(ids(event), score);
        if (event.getLastStep()) {
            requests.delete(event.getRequestId());
        } else {
            requests.put(event.getRequestId(), RequestForecastState.newBuilder(state)
                    .setPlannedExperts(plannedExperts(plan))
                    .setLastScoredStep(step)
                    .setEventTimeMs(event.getEventTimeMs())
                    .build());
        }
        context.forward(record.withKey(event.getModel()).withValue(ForecastOutput.score(PredictorMetrics.newBuilder()
                .setModel(event.getModel())
                .setPredictor(PREDICTOR)
                .setN(settings.n())
                .setSamples(score.samples())
                .setHits(score.hits())
                .setSelected(score.selected())
                .setRecall(score.recall())
                .setRequests(score.requests())
                .setPredicted(score.predicted())
                .setHitSamples(score.hitSamples())
                .setPrecision(score.precision())
                .setHitRate(score.hitRate())
                .setEventTimeMs(event.getEventTimeMs())
                .build())));
    }

    /** Layers are MoE layer indices (0 .. numMoeLayers-1, the order of the packed ids). */
    private static PrefetchCommand prefetchCommand(SelectionEvent event, DecodePlan plan) {
        List<LayerPrediction> layers = new ArrayList<>(plan.numMoeLayers());
        for (int layer = 0; layer < plan.numMoeLayers(); layer++) {
            layers.add(LayerPrediction.newBuilder()
                    .setLayer(layer)
                    .setExperts(toList(plan.experts(layer)))
                    .setScores(Arrays.stream(plan.scores(layer)).asDoubleStream().boxed().toList())
                    .build());
        }
        return PrefetchCommand.newBuilder()
                .setModel(event.getModel())
                .setRequestId(event.getRequestId())
                .setScope(PrefetchScope.DECODE_PHASE)
                .setTargetStep(event.getStep())
                // The whole decode phase is far ahead (long reuse distance): HBM, not LLC (Insight 2).
                .setTier(MemoryTier.HBM)
                .setLayers(layers)
                .setSourcePassId(event.getPassId())
                .setEventTimeMs(event.getEventTimeMs())
                .build();
    }

    private static PrefillHeatmap heatmapOf(ModelShape shape, RequestForecastState state) {
        int[] counts = state.getHeatmap().stream().mapToInt(Integer::intValue).toArray();
        return PrefillHeatmap.of(shape.numMoeLayers(), shape.numExperts(), shape.topK(), counts,
                state.getPrefillTokens());
    }

    /** The stored plan, with its scores read back from the heatmap that ranked it. */
    private DecodePlan planOf(PrefillHeatmap heatmap, List<List<Integer>> stored) {
        int[][] experts = new int[stored.size()][];
        int[][] scores = new int[stored.size()][];
        for (int layer = 0; layer < experts.length; layer++) {
            experts[layer] = stored.get(layer).stream().mapToInt(Integer::intValue).toArray();
            scores[layer] = new int[experts[layer].length];
            for (int i = 0; i < experts[layer].length; i++) {
                scores[layer][i] = heatmap.count(layer, experts[layer][i]);
            }
        }
        return new DecodePlan(settings.n(), heatmap.topK(), experts, scores);
    }

    private static List<List<Integer>> plannedExperts(DecodePlan plan) {
        List<List<Integer>> layers = new ArrayList<>(plan.numMoeLayers());
        for (int layer = 0; layer < plan.numMoeLayers(); layer++) {
            layers.add(toList(plan.experts(layer)));
        }
        return layers;
    }

    private static int[] ids(SelectionEvent event) {
        ByteBuffer buffer = event.getExpertIds().duplicate();
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return ExpertIds.unpack(bytes);
    }

    private static List<Integer> toList(int[] values) {
        return Arrays.stream(values).boxed().toList();
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
