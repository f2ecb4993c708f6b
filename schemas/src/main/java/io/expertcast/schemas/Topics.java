package io.expertcast.schemas;

import java.util.List;
import org.apache.kafka.common.serialization.Serdes;

/**
 * Every topic of the pipeline, typed. Names are the defaults; a deployment may prefix them
 * through {@link #withPrefix(String)}.
 */
public final class Topics {

    private static final SerdeFactory SERDES = SerdeFactory.defaultFactory();

    /** Key: request id. One record per request per step (prefill may be chunked). */
    public static final Topic<String, SelectionEvent> SELECTIONS =
            new Topic<>("moe.selections", Serdes.String(), SERDES.serde(SelectionEvent.class), false);
    /** Key: model. One record per forward pass. */
    public static final Topic<String, ForwardPass> PASSES =
            new Topic<>("moe.passes", Serdes.String(), SERDES.serde(ForwardPass.class), false);
    /** Key: model/layer/kind. */
    public static final Topic<String, HeatmapSnapshot> HEATMAPS =
            new Topic<>("moe.heatmaps", Serdes.String(), SERDES.serde(HeatmapSnapshot.class), true);
    /** Key: model/layer/level. */
    public static final Topic<String, PredictionTable> PREDICTION_TABLES =
            new Topic<>("moe.prediction-tables", Serdes.String(), SERDES.serde(PredictionTable.class), true);
    /** Key: request id. */
    public static final Topic<String, PrefetchCommand> PREFETCH =
            new Topic<>("moe.prefetch", Serdes.String(), SERDES.serde(PrefetchCommand.class), false);
    /** Key: model/pass. */
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

    /** All topics, in pipeline order. */
    public static final List<Topic<?, ?>> ALL = List.of(SELECTIONS, PASSES, HEATMAPS, PREDICTION_TABLES, PREFETCH,
            ALLOCATIONS, PLACEMENT, PLACEMENT_COMMANDS, PREDICTOR_METRICS, ALLOCATOR_METRICS, WAFER_METRICS,
            DEAD_LETTER, REPLAY_CHECKPOINTS);

    private Topics() {
    }

    /** Key of a per-pass record: {@code model/passId}, the pass id zero-padded so keys sort by pass. */
    public static String passKey(String model, long passId) {
        return model + "/" + String.format("%012d", passId);
    }
}
