package io.expertcast.predictor;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictionTable;

/**
 * One output of {@link LayerHeatmapProcessor}; exactly one is set: a snapshot, a prediction table, a dead
 * letter for an input it could not count, or {@code deleted} (a tombstone for its key on moe.heatmaps: a
 * tag's popularity evicted). Never leaves the task.
 */
record HeatmapPublication(HeatmapSnapshot snapshot, PredictionTable table, DeadLetter deadLetter, boolean deleted) {
    HeatmapPublication(HeatmapSnapshot snapshot, PredictionTable table) {
        this(snapshot, table, null, false);
    }

    HeatmapPublication(HeatmapSnapshot snapshot, PredictionTable table, DeadLetter deadLetter) {
        this(snapshot, table, deadLetter, false);
    }

    /** Deletes its key's snapshot from moe.heatmaps. */
    static HeatmapPublication tombstone() {
        return new HeatmapPublication(null, null, null, true);
    }
}
