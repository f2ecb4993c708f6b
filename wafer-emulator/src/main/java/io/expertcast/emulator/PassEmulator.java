package io.expertcast.emulator;

import io.expertcast.core.model.ModelShape;
import io.expertcast.emulator.engine.InvalidPlanException;
import io.expertcast.emulator.engine.PassResult;
import io.expertcast.emulator.engine.PassWorkload;
import io.expertcast.emulator.engine.Policies;
import io.expertcast.emulator.engine.PolicyTotals;
import io.expertcast.emulator.engine.WaferContext;
import io.expertcast.emulator.engine.WaferEngine;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.Assignment;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.DeadLetters;
import io.expertcast.streams.pass.CompletedPass;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs every configured policy on one completed pass (Kafka-free apart from the record types), giving
 * one per-pass WaferMetrics delta per policy in the configured order. Two kinds of bad input become a
 * dead letter instead of a wrong number:
 * <ul>
 *   <li>an unusable controller plan (die outside the mesh, expert or layer out of range, tokens that
 *       do not match the pass's routing): the allo policy skips the pass, the others still count it;</li>
 *   <li>selections whose batch token indices do not tile the ForwardPass exactly (outside it,
 *       overlapping, or leaving a token without selections): no policy counts the pass.</li>
 * </ul>
 * The source offset of such a letter is -1: the pass was assembled from several records.
 */
final class PassEmulator {
    private final EmulatorSettings settings;
    private final Map<String, WaferContext> wafers = new HashMap<>(); // lookup only, never iterated

    PassEmulator(EmulatorSettings settings) {
        this.settings = settings;
    }

    /** The per-policy deltas of one pass, and at most one dead letter. */
    record Outcome(List<WaferMetrics> deltas, DeadLetter deadLetter) {
    }

    Outcome emulate(CompletedPass completed, String application) {
        String modelId = completed.pass().getModel();
        long passId = completed.pass().getPassId();
        ModelShape model = settings.catalog().byId(modelId).orElseThrow(); // ValidatedPasses admits known models only
        PassWorkload workload;
        try {
            workload = workload(model, completed);
        } catch (IllegalArgumentException e) {
            return new Outcome(List.of(), letter(application, Topics.SELECTIONS.name(), modelId, passId,
                    "selections do not fit their pass, no policy counts it: " + e.getMessage()));
        }
        WaferContext wafer = wafers.computeIfAbsent(modelId, id -> WaferContext.even(settings.hardware(), model));
        List<int[][]> plans = null;
        String planProblem = null;
        try {
            plans = plansByLayer(model, completed.plans());
        } catch (InvalidPlanException e) {
            planProblem = e.getMessage();
        }
        List<WaferMetrics> deltas = new ArrayList<>();
        for (String name : settings.policies()) {
            try {
                if (planProblem != null && name.equals(Policies.ALLO)) {
                    throw new InvalidPlanException(planProblem);
                }
                PassResult r = WaferEngine.run(workload, Policies.of(name, plans), wafer);
                deltas.add(WaferTotals.delta(modelId, settings.hardware().name(), passId,
                        completed.pass().getEventTimeMs(), PolicyTotals.of(r)));
            } catch (InvalidPlanException e) {
                planProblem = e.getMessage();
            }
        }
        DeadLetter rejected = planProblem == null ? null : letter(application, Topics.ALLOCATIONS.name(), modelId,
                passId, "invalid plan, the allo policy skips this pass: " + planProblem);
        return new Outcome(deltas, rejected);
    }

    private static DeadLetter letter(String application, String topic, String model, long passId, String reason) {
        byte[] key = Topics.passKey(model, passId).getBytes(StandardCharsets.UTF_8);
        return DeadLetters.of(application, topic, -1, -1L, reason, key, null);
    }

    /**
     * Each event's ids placed at its batch token offset: the pass in batch order. Throws
     * IllegalArgumentException unless the events cover every token of the pass exactly once.
     */
    static PassWorkload workload(ModelShape model, CompletedPass completed) {
        int tokens = completed.pass().getTotalTokens();
        int perToken = model.numMoeLayers() * model.topK();
        int[] ids = new int[tokens * perToken];
        boolean[] covered = new boolean[tokens];
        for (SelectionEvent e : completed.selections()) {
            int first = e.getBatchTokenOffset();
            if (first < 0 || first + e.getTokenCount() > tokens) {
                throw new IllegalArgumentException("request " + e.getRequestId() + " step " + e.getStep()
                        + " claims batch tokens " + first + ".." + (first + e.getTokenCount() - 1) + " of pass "
                        + e.getPassId() + ", which has " + tokens);
            }
            for (int t = first; t < first + e.getTokenCount(); t++) {
                if (covered[t]) {
                    throw new IllegalArgumentException("batch token " + t + " of pass " + e.getPassId()
                            + " claimed twice (again by request " + e.getRequestId() + ")");
                }
                covered[t] = true;
            }
            ByteBuffer b = e.getExpertIds().duplicate().order(ByteOrder.LITTLE_ENDIAN);
            int at = first * perToken;
            for (int i = 0; i < e.getTokenCount() * perToken; i++) {
                ids[at + i] = b.getShort() & 0xFFFF;
            }
        }
        for (int t = 0; t < tokens; t++) {
            if (!covered[t]) {
                throw new IllegalArgumentException("batch token " + t + " of pass " + completed.pass().getPassId()
                        + " has no selections");
            }
        }
        return new PassWorkload(model, completed.pass().getPassId(), tokens, ids);
    }

    /** Plans indexed by MoE layer; a layer outside the model is an unusable plan, not a silent skip. */
    private static List<int[][]> plansByLayer(ModelShape model, List<AllocationPlan> plans) {
        List<int[][]> byLayer = new ArrayList<>();
        for (int l = 0; l < model.numMoeLayers(); l++) {
            byLayer.add(null);
        }
        for (AllocationPlan plan : plans) {
            if (plan.getLayer() < 0 || plan.getLayer() >= model.numMoeLayers()) {
                throw new InvalidPlanException("plan for pass " + plan.getPassId() + " names MoE layer "
                        + plan.getLayer() + ", model " + model.id() + " has " + model.numMoeLayers());
            }
            int[][] triples = new int[plan.getAssignments().size()][];
            for (int i = 0; i < triples.length; i++) {
                Assignment a = plan.getAssignments().get(i);
                triples[i] = new int[] {a.getExpert(), a.getDie(), a.getTokens()};
            }
            byLayer.set(plan.getLayer(), triples);
        }
        return byLayer;
    }
}
