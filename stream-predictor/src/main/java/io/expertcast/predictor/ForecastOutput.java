package io.expertcast.predictor;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.PrefetchCommand;

/**
 * One output of {@link RequestForecastProcessor}; exactly one field is set. The topology splits the
 * stream on it: prefetch commands to moe.prefetch, scores to the per-model aggregation, dead letters
 * to moe.dead-letter. Never leaves the task (no serde needed).
 */
record ForecastOutput(PrefetchCommand prefetch, PredictorMetrics score, DeadLetter deadLetter) {

    static ForecastOutput prefetch(PrefetchCommand command) {
        return new ForecastOutput(command, null, null);
    }

    static ForecastOutput score(PredictorMetrics delta) {
        return new ForecastOutput(null, delta, null);
    }

    static ForecastOutput deadLetter(DeadLetter letter) {
        return new ForecastOutput(null, null, letter);
    }
}
