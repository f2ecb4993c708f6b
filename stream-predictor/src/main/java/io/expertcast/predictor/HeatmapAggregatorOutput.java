package io.expertcast.predictor;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictionTable;

/**
 * One record the heatmap aggregator emits (a snapshot, a prediction table, a dead letter, a tombstone).
 *
 * One output of {@link LayerHeatmapProcessor}; exactly one is set: a snapshot, a prediction table, a dead
 * letter for an input it could not count, or {@code deleted} (a tombstone for its key on moe.heatmaps: a
 * tag's popularity evicted). Never leaves the task.
 */
record HeatmapAggregatorOutput(HeatmapSnapshot snapshot, PredictionTable table, DeadLetter deadLetter, boolean deleted) {
    HeatmapAggregatorOutput(HeatmapSnapshot snapshot, PredictionTable table) {
        this(snapshot, table, null, false);
    }

    HeatmapAggregatorOutput(HeatmapSnapshot snapshot, PredictionTable table, DeadLetter deadLetter) {
        this(snapshot, table, deadLetter, false);
    }

    /** Deletes its key's snapshot from moe.heatmaps. */
    static HeatmapAggregatorOutput tombstone() {
        return new HeatmapAggregatorOutput(null, null, null, true);
    }
}
