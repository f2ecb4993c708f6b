package io.expertcast.core.predict;

import io.expertcast.core.trace.RequestTrace;

/**
 * Offline recall@n of the prefill-driven decode plan (Insight 1) on recorded requests: for every
 * request with at least one decode step, plan from its prefill and score every decode step and MoE
 * layer. The live predictor calls the same {@link DecodePlanner} and {@link DecodePlan#score}, so
 * both give the same numbers on the same trace.
 */
public final class DecodePlanEvaluator {
    private DecodePlanEvaluator() {
    }

    public static RecallAtN evaluate(Iterable<RequestTrace> requests, int n) {
        DecodePlanner planner = new DecodePlanner(n);
        RecallAtN recall = new RecallAtN();
        for (RequestTrace request : requests) {
            if (request.numDecodeSteps() == 0) {
                continue;
            }
            PrefillHeatmap heatmap = new PrefillHeatmap(request.model().numMoeLayers(),
                    request.model().numExperts(), request.model().topK());
            heatmap.add(request.steps().get(0));
            DecodePlan plan = planner.plan(heatmap);
            recall.addRequest();
            for (int step = 1; step < request.numSteps(); step++) {
                plan.score(request.steps().get(step), recall);
            }
        }
        return recall;
    }
}
