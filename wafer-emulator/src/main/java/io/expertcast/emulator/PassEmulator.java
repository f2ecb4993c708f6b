package io.expertcast.emulator;

import io.expertcast.core.model.ModelShape;
import io.expertcast.emulator.engine.InvalidPlanException;
import io.expertcast.emulator.engine.PassResult;
import io.expertcast.emulator.engine.PassWorkload;
import io.expertcast.emulator.engine.Policies;
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
 * one per-pass WaferMetrics delta per policy, and a dead letter when the controller's plan is unusable
 * (the allo policy then skips the pass; the others still run).
 */
final class PassEmulator {
    private final EmulatorSettings settings;
    private final Map<String, WaferContext> wafers = new HashMap<>();

    PassEmulator(EmulatorSettings settings) {
        this.settings = settings;
    }

    record Outcome(List<WaferMetrics> deltas, DeadLetter rejectedPlan) {
    }

    Outcome emulate(CompletedPass completed, String application) {
        String modelId = completed.pass().getModel();
        ModelShape model = settings.catalog().byId(modelId).orElseThrow();
        WaferContext wafer = wafers.computeIfAbsent(modelId, id -> WaferContext.even(settings.hardware(), model));
        PassWorkload workload = workload(model, completed);
        List<int[][]> plans = plansByLayer(model, completed.plans());
        List<WaferMetrics> deltas = new ArrayList<>();
        DeadLetter rejected = null;
        for (String name : settings.policies()) {
            try {
                PassResult r = WaferEngine.run(workload, Policies.of(name, plans), wafer);
                deltas.add(delta(modelId, completed.pass().getPassId(), r));
            } catch (InvalidPlanException e) {
                String key = Topics.passKey(modelId, completed.pass().getPassId());
                rejected = DeadLetters.of(application, Topics.ALLOCATIONS.name(), -1, -1L,
                        "invalid plan, the allo policy skips this pass: " + e.getMessage(),
                        key.getBytes(StandardCharsets.UTF_8), null);
            }
        }
        return new Outcome(deltas, rejected);
    }

    private WaferMetrics delta(String model, long passId, PassResult r) {
        return WaferMetrics.newBuilder().setModel(model).setMesh(settings.hardware().name()).setPolicy(r.policy())
                .setPasses(1).setTokens(r.tokens()).setMoeTimeNs(r.moeNs()).setThroughputTokensPerS(0)
                .setHops(r.hops()).setLocalReads(r.localReads()).setRemoteReads(r.remoteReads()).setCopyWrites(0)
                .setLastPassId(passId).setEventTimeMs(System.currentTimeMillis()).build();
    }

    /** Each event's ids placed at its batch token offset: the pass in batch order. */
    static PassWorkload workload(ModelShape model, CompletedPass completed) {
        int tokens = completed.pass().getTotalTokens();
        int perToken = model.numMoeLayers() * model.topK();
        int[] ids = new int[tokens * perToken];
        for (SelectionEvent e : completed.selections()) {
            ByteBuffer b = e.getExpertIds().duplicate().order(ByteOrder.LITTLE_ENDIAN);
            int at = e.getBatchTokenOffset() * perToken;
            int n = e.getTokenCount() * perToken;
            if (at + n > ids.length) {
                throw new IllegalStateException("selection of " + e.getRequestId() + " lies outside pass "
                        + e.getPassId() + " (" + tokens + " tokens)");
            }
            for (int i = 0; i < n; i++) {
                ids[at + i] = b.getShort() & 0xFFFF;
            }
        }
        return new PassWorkload(model, completed.pass().getPassId(), tokens, ids);
    }

    private static List<int[][]> plansByLayer(ModelShape model, List<AllocationPlan> plans) {
        List<int[][]> byLayer = new ArrayList<>();
        for (int l = 0; l < model.numMoeLayers(); l++) {
            byLayer.add(null);
        }
        for (AllocationPlan plan : plans) {
            if (plan.getLayer() < 0 || plan.getLayer() >= model.numMoeLayers()) {
                continue; // reported as "no plan for layer ..." when a layer then lacks one
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
