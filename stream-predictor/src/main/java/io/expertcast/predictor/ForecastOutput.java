package io.expertcast.predictor;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.LayerSelections;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.PrefetchCommand;

/**
 * One output of {@link RequestForecastProcessor}; exactly one field is set. The topology splits the
 * stream on it: prefetch commands to moe.prefetch, scores to the per-model aggregation, layer
 * selections to the global heatmaps, dead letters to moe.dead-letter. Never leaves the task.
 */
record ForecastOutput(PrefetchCommand prefetch, PredictorMetrics score, LayerSelections layerSelections,
                      DeadLetter deadLetter) {

    static ForecastOutput prefetch(PrefetchCommand command) {
        return new ForecastOutput(command, null, null, null);
    }

    static ForecastOutput score(PredictorMetrics delta) {
        return new ForecastOutput(null, delta, null, null);
    }

    static ForecastOutput layerSelections(LayerSelections selections) {
        return new ForecastOutput(null, null, selections, null);
    }

    static ForecastOutput deadLetter(DeadLetter letter) {
        return new ForecastOutput(null, null, null, letter);
    }
}
