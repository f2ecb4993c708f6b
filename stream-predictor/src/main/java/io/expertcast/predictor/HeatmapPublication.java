package io.expertcast.predictor;

import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictionTable;

/** One output of {@link LayerHeatmapProcessor}; exactly one field is set. Never leaves the task. */
record HeatmapPublication(HeatmapSnapshot snapshot, PredictionTable table) {
}
