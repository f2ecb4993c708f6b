package io.expertcast.predictor;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictionTable;

/**
 * One output of {@link LayerHeatmapProcessor}; exactly one field is set: a snapshot, a prediction table, or
 * a dead letter for an input it could not count. Never leaves the task.
 */
record HeatmapPublication(HeatmapSnapshot snapshot, PredictionTable table, DeadLetter deadLetter) {
    HeatmapPublication(HeatmapSnapshot snapshot, PredictionTable table) {
        this(snapshot, table, null);
    }
}
