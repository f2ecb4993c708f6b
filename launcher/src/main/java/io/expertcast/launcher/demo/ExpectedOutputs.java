package io.expertcast.launcher.demo;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.predict.DecodePlanEvaluator;
import io.expertcast.core.predict.RecallAtN;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.streams.pass.ScheduledPass;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a replay of a trace folder must produce, computed from the files by the Kafka-free core
 * alone: the numbers the streaming run is checked against (demo completion, integration test).
 *
 * @param passesPerModel     forward passes per model
 * @param plansExpected      one allocation plan per pass and MoE layer
 * @param prefetchExpected   one decode-phase prefetch command per request that has a decode step
 * @param recallPerModel     decode-phase recall@n computed directly from the files
 */
public record ExpectedOutputs(int requests, Map<String, Long> passesPerModel, long plansExpected,
                              long prefetchExpected, Map<String, RecallAtN> recallPerModel, int n) {
    /**
     * The live predictor whose recall does not depend on how requests interleave (the prefill-only plan),
     * so it must equal the offline value exactly for any replay; the blended predictors learn from
     * other requests, so only a one-at-a-time replay matches evaluate-predictor (LiveEqualsOfflineTest).
     */
    public static final String CHECKED_PREDICTOR = "decode_plan_prefill_only";

    public static ExpectedOutputs of(Path traces, ModelCatalog catalog, int limit, int batchSize, int prefillChunk,
                                     int n) {
        List<RequestTrace> requests = new ArrayList<>();
        Iterator<RequestTrace> it = TraceDataset.open(traces, catalog).requests(true, new ArrayList<>());
        while (it.hasNext() && (limit <= 0 || requests.size() < limit)) {
            requests.add(it.next());
        }
        Map<String, Long> passes = new TreeMap<>();
        long plans = 0;
        BatchScheduler scheduler = new BatchScheduler(requests.iterator(), batchSize, prefillChunk, () -> 0L);
        while (scheduler.hasNext()) {
            ScheduledPass pass = scheduler.next();
            String model = pass.pass().getModel();
            passes.merge(model, 1L, Long::sum);
            plans += catalog.byId(model).orElseThrow().numMoeLayers();
        }
        long prefetch = requests.stream().filter(r -> r.numDecodeSteps() > 0).count();
        Map<String, RecallAtN> recall = new TreeMap<>();
        requests.stream().map(r -> r.model().id()).distinct().forEach(model -> recall.put(model,
                DecodePlanEvaluator.evaluate(requests.stream().filter(r -> r.model().id().equals(model)).toList(), n)));
        return new ExpectedOutputs(requests.size(), passes, plans, prefetch, recall, n);
    }

    public long totalPasses() {
        return passesPerModel.values().stream().mapToLong(Long::longValue).sum();
    }

    /** True when the run's outputs reached every expected count (metrics caught up with the last pass). */
    public boolean reachedBy(PipelineOutputs out, List<String> policies) {
        if (out.prefetchCommands() < prefetchExpected || out.allocationPlans() < plansExpected) {
            return false;
        }
        for (var e : recallPerModel.entrySet()) {
            var m = out.predictorMetrics().get(e.getKey() + "/" + CHECKED_PREDICTOR);
            if (m == null || m.getSamples() < e.getValue().samples()) {
                return false;
            }
        }
        for (var e : passesPerModel.entrySet()) {
            for (String policy : policies) {
                var m = out.waferMetrics().get(e.getKey() + "/" + policy);
                if (m == null || m.getPasses() < e.getValue()) {
                    return false;
                }
            }
        }
        return true;
    }

    /** What is still missing, for a timeout message. */
    public String missing(PipelineOutputs out) {
        return "prefetch " + out.prefetchCommands() + "/" + prefetchExpected + ", plans " + out.allocationPlans()
                + "/" + plansExpected + ", predictor metrics " + out.predictorMetrics().keySet()
                + ", wafer metrics " + out.waferMetrics().values().stream()
                .map(m -> m.getModel() + "/" + m.getPolicy() + "=" + m.getPasses() + " passes").toList();
    }
}
