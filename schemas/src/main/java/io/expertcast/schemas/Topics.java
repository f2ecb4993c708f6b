package io.expertcast.schemas;

import java.util.List;
import org.apache.kafka.common.serialization.Serdes;

/**
 * Every topic of the pipeline, typed. Names are the defaults; a deployment may prefix them
 * through {@link #withPrefix(String)}.
 */
public final class Topics {

    private static final SerdeFactory SERDES = SerdeFactory.defaultFactory();

    /**
     * Key: request id ({@link #selectionKey}). One record per request per step (prefill may be chunked);
     * a request is identified by (source, request id), a pass by (model, source, pass id).
     */
    public static final Topic<String, SelectionEvent> SELECTIONS =
            new Topic<>("moe.selections", Serdes.String(), SERDES.serde(SelectionEvent.class), false);
    /** Key: model. One record per forward pass. */
    public static final Topic<String, ForwardPass> PASSES =
            new Topic<>("moe.passes", Serdes.String(), SERDES.serde(ForwardPass.class), false);
    /** Key: model/layer/kind. */
    public static final Topic<String, HeatmapSnapshot> HEATMAPS =
            new Topic<>("moe.heatmaps", Serdes.String(), SERDES.serde(HeatmapSnapshot.class), true);
    /**
     * Key: model/layer shard. What the predictor's request side hands its heatmap aggregator (events'
     * tokens, finished requests' counts): a retained topic (not a repartition topic, which Streams purges),
     * so that a restarted aggregator replays the lessons after its last whole snapshot.
     */
    public static final Topic<String, LayerSelections> HEATMAP_LESSONS =
            new Topic<>("moe.heatmap-lessons", Serdes.String(), SERDES.serde(LayerSelections.class), false);
    /** Key: model/layer/level. */
    public static final Topic<String, PredictionTable> PREDICTION_TABLES =
            new Topic<>("moe.prediction-tables", Serdes.String(), SERDES.serde(PredictionTable.class), true);
    /** Key: request id. */
    public static final Topic<String, PrefetchCommand> PREFETCH =
            new Topic<>("moe.prefetch", Serdes.String(), SERDES.serde(PrefetchCommand.class), false);
    /** Key: {@link #passKey(String, String, long)}: model/pass, or model/source/pass. */
    public static final Topic<String, AllocationPlan> ALLOCATIONS =
            new Topic<>("moe.allocations", Serdes.String(), SERDES.serde(AllocationPlan.class), false);
    /** Key: model/layer/expert. The expert distribution table. */
    public static final Topic<String, PlacementEntry> PLACEMENT =
            new Topic<>("moe.placement", Serdes.String(), SERDES.serde(PlacementEntry.class), true);
    /** Key: model/layer/expert. Changes to the table. */
    public static final Topic<String, PlacementCommand> PLACEMENT_COMMANDS =
            new Topic<>("moe.placement-commands", Serdes.String(), SERDES.serde(PlacementCommand.class), false);
    /** Key: model. */
    public static final Topic<String, PredictorMetrics> PREDICTOR_METRICS =
            new Topic<>("moe.predictor-metrics", Serdes.String(), SERDES.serde(PredictorMetrics.class), false);
    /** Key: model. */
    public static final Topic<String, AllocatorMetrics> ALLOCATOR_METRICS =
            new Topic<>("moe.allocator-metrics", Serdes.String(), SERDES.serde(AllocatorMetrics.class), false);
    /** Key: model/policy. */
    public static final Topic<String, WaferMetrics> WAFER_METRICS =
            new Topic<>("moe.wafer-metrics", Serdes.String(), SERDES.serde(WaferMetrics.class), false);
    /** Key: the rejected record's key bytes, at most {@link DeadLetterKeySerde#KEPT_BYTES} of them. */
    public static final Topic<byte[], DeadLetter> DEAD_LETTER =
            new Topic<>("moe.dead-letter", DeadLetterKeySerde.serde(), SERDES.serde(DeadLetter.class), false);

    /** Key: replay id. Where a named replay stands, for resuming it (written transactionally). */
    public static final Topic<String, ReplayCheckpoint> REPLAY_CHECKPOINTS =
            new Topic<>("moe.replay-checkpoints", Serdes.String(), SERDES.serde(ReplayCheckpoint.class), true);

    /** Key: model/source. Expert load of one recorder window of a serving engine (attach). */
    public static final Topic<String, ExpertLoad> EXPERT_LOAD =
            new Topic<>("moe.expert-load", Serdes.String(), SERDES.serde(ExpertLoad.class), false);

    /** Key: source id. Which dumps an attach has published (written transactionally with them). */
    public static final Topic<String, AttachCheckpoint> ATTACH_CHECKPOINTS =
            new Topic<>("moe.attach-checkpoints", Serdes.String(), SERDES.serde(AttachCheckpoint.class), true);

    /** All topics, in pipeline order. */
    public static final List<Topic<?, ?>> ALL = List.of(SELECTIONS, PASSES, HEATMAP_LESSONS, HEATMAPS, PREDICTION_TABLES, PREFETCH,
            ALLOCATIONS, PLACEMENT, PLACEMENT_COMMANDS, PREDICTOR_METRICS, ALLOCATOR_METRICS, WAFER_METRICS,
            DEAD_LETTER, REPLAY_CHECKPOINTS, EXPERT_LOAD, ATTACH_CHECKPOINTS);

    private Topics() {
    }

    /** Key of a per-pass record: {@code model/passId}, the pass id zero-padded so keys sort by pass. */
    public static String passKey(String model, long passId) {
        return model + "/" + String.format("%012d", passId);
    }

    /**
     * Key of a per-pass record of one source: {@code model/source/passId}; {@code model/passId} for the
     * empty source (records before SelectionEvent v2), so keys written then stay the same.
     */
    public static String passKey(String model, String source, long passId) {
        return source == null || source.isEmpty() ? passKey(model, passId)
                : model + "/" + source + "/" + String.format("%012d", passId);
    }

    /**
     * Identity of a request across sources (request ids are unique per source only):
     * {@code source/requestId}, or the bare request id for the empty source. Sources never contain '/'
     * ({@link #validSource}), so the first '/' separates the two.
     */
    public static String requestKey(String source, String requestId) {
        return source == null || source.isEmpty() ? requestId : source + "/" + requestId;
    }

    /**
     * The key a selection event is produced with on moe.selections: {@link #requestKey} of its source and
     * request id (the bare request id for the empty source). The predictor keys its request state by it and
     * sends the request's prefetch commands with it, so the emulator files them with their source.
     */
    public static String selectionKey(SelectionEvent event) {
        return requestKey(event.getSource(), event.getRequestId());
    }

    /** Longest source id accepted. */
    public static final int MAX_SOURCE_LENGTH = 128;

    /**
     * Why {@code source} cannot identify a source, or null when it can: at most {@value #MAX_SOURCE_LENGTH}
     * characters of letters, digits and {@code . _ - : @} (no '/', which separates key parts).
     */
    public static String sourceProblem(String source) {
        if (source == null) {
            return "source is null";
        }
        if (source.length() > MAX_SOURCE_LENGTH) {
            return "source id of " + source.length() + " characters (at most " + MAX_SOURCE_LENGTH + ")";
        }
        for (int i = 0; i < source.length(); i++) {
            char c = source.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-' || c == ':' || c == '@';
            if (!ok) {
                return "source id '" + source + "' has '" + c + "' (letters, digits and . _ - : @ only)";
            }
        }
        return null;
    }
}
