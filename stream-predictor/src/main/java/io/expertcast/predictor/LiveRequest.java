package io.expertcast.predictor;

import io.expertcast.core.predict.RequestHistory;

/**
 * What {@link RequestForecastProcessor} needs of a decoding request at every step, held in memory: the
 * request's history (own selections, decayed), its last token, the plans being scored and how far it
 * has been scored. Derived from the stores only ({@link PredictorTopology#REQUEST_STORE} as of the end of
 * prefill plus the request's {@link PredictorTopology#REQUEST_STEPS_STORE} records, replayed in order; the
 * plans from the first of them, or from a state an older predictor wrote with its plans), so after a
 * restart or a rebalance it is rebuilt bit for bit and predictions do not change.
 */
final class LiveRequest {
    final String model;
    final RequestHistory history;
    int[] lastToken;               // [moe layer][k], null before the first token
    int[][] blendedPlan;           // null until the first decode step
    int[][] prefillOnlyPlan;
    int[][] nextTokenPlan;         // the prediction for step lastScoredStep + 1 (from step 1 on)
    int lastScoredStep;
    long eventTimeMs;

    LiveRequest(String model, RequestHistory history, int[] lastToken, long eventTimeMs) {
        this.model = model;
        this.history = history;
        this.lastToken = lastToken;
        this.eventTimeMs = eventTimeMs;
    }

    /** Step {@code step} was scored and its selections observed in the history; the next step's prediction. */
    void scored(int step, int[] ids, int[][] nextPlan, long timeMs) {
        lastToken = ids;
        lastScoredStep = step;
        nextTokenPlan = nextPlan;
        eventTimeMs = timeMs;
    }

    /** A stored step, replayed: what processing it did to this state. */
    void replay(int step, int[] ids, int[][] nextPlan, long timeMs) {
        history.observe(ids, 0);
        scored(step, ids, nextPlan, timeMs);
    }
}
