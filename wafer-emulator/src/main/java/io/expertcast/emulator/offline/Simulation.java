package io.expertcast.emulator.offline;

import io.expertcast.core.allocation.AllocationResult;
import io.expertcast.core.allocation.TaskAllocator;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.TokenTransitionTable;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.emulator.engine.BasePolicy;
import io.expertcast.emulator.engine.ControllerPlanPolicy;
import io.expertcast.emulator.engine.ExpertParallelPolicy;
import io.expertcast.emulator.engine.PassResult;
import io.expertcast.emulator.engine.PassWorkload;
import io.expertcast.emulator.engine.Policy;
import io.expertcast.emulator.engine.PolicyTotals;
import io.expertcast.emulator.engine.WaferContext;
import io.expertcast.emulator.engine.WaferEngine;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Offline emulation of the paper's case study: decode-only batches ({@link DecodeBatches}) run
 * through the same engine as the emulator service, every policy on the same passes, each on its own
 * copy of the wafer's expert distribution table:
 * <ul>
 *   <li>{@code base}: placement-oblivious even split; {@code ep}: each expert's tokens on its home die;</li>
 *   <li>{@code allo}: Algorithm 1 ({@link TaskAllocator}, the stream-allocator's code) per pass and layer;</li>
 *   <li>{@code pred}: base's split plus copy-on-read of predicted experts ({@link PredictiveCopies});</li>
 *   <li>{@code allo+pred}: Algorithm 1 on the table the copies grow, plus copy-on-read.</li>
 * </ul>
 * The prediction for a step is the paper's: for every expert the previous step selected, its
 * {@value #SUCCESSORS} most frequent successors in the token->token table learned from the passes so far.
 */
public final class Simulation {
    public static final List<String> POLICIES = List.of("base", "ep", "allo", "pred", "allo+pred");
    static final int SUCCESSORS = 2;

    /** One policy's totals over the run, and its copies. */
    public record Outcome(PolicyTotals totals, long copies, long evictions) {
    }

    private final ModelShape model;
    private final HardwareConfig hardware;
    private final int batch;
    private final List<String> policies;

    public Simulation(ModelShape model, HardwareConfig hardware, int batch, List<String> policies) {
        for (String p : policies) {
            if (!POLICIES.contains(p)) {
                throw new IllegalArgumentException("unknown policy '" + p + "', known: " + POLICIES);
            }
        }
        if (batch <= 0) {
            throw new IllegalArgumentException("batch must be positive");
        }
        this.model = model;
        this.hardware = hardware;
        this.batch = batch;
        this.policies = List.copyOf(policies);
    }

    private final class PolicyRun {
        final String name;
        final WaferContext wafer;
        final TaskAllocator allocator;
        final PredictiveCopies copies;
        PolicyTotals totals;

        PolicyRun(String name) {
            this.name = name;
            this.wafer = WaferContext.even(hardware, model);
            this.allocator = name.startsWith("allo") ? new TaskAllocator(wafer.mesh(), wafer.cost()) : null;
            this.copies = name.endsWith("pred") ? new PredictiveCopies(model, wafer.table(), hardware.usableHbmBytes()) : null;
            this.totals = PolicyTotals.empty(name);
        }

        Policy policy(PassWorkload pass) {
            if (allocator == null) {
                return name.equals("ep") ? new ExpertParallelPolicy() : new BasePolicy();
            }
            List<int[][]> plans = new ArrayList<>();
            for (int l = 0; l < model.numMoeLayers(); l++) {
                AllocationResult r = allocator.allocate(model, wafer.table(), l, pass.tokensPerExpert(l));
                int[][] triples = new int[r.size()][];
                for (int i = 0; i < r.size(); i++) {
                    triples[i] = new int[] {r.expert(i), r.die(i), r.tokens(i)};
                }
                plans.add(triples);
            }
            return new ControllerPlanPolicy(plans);
        }
    }

    /** Runs the requests (dataset order) and returns each policy's outcome, in the order asked. */
    public Map<String, Outcome> run(Iterator<RequestTrace> requests) {
        DecodeBatches batches = new DecodeBatches(model, requests, batch);
        TokenTransitionTable transitions = new TokenTransitionTable(model);
        List<PolicyRun> runs = policies.stream().map(PolicyRun::new).toList();
        int layers = model.numMoeLayers();
        int k = model.topK();
        int perToken = layers * k;
        DecodeBatches.Pass p;
        while ((p = batches.next()) != null) {
            PassWorkload pass = new PassWorkload(model, p.id(), p.tokens(), p.ids());
            boolean[][] predicted = null;
            if (runs.stream().anyMatch(r -> r.copies != null)) {
                predicted = new boolean[layers][model.numExperts()];
                boolean[][] selected = new boolean[layers][model.numExperts()]; // by the previous step
                for (int t = 0; t < p.tokens(); t++) {
                    for (int l = 0; l < layers; l++) {
                        for (int a = 0; a < k; a++) {
                            selected[l][p.previousIds()[t * perToken + l * k + a]] = true;
                        }
                    }
                }
                for (int l = 0; l < layers; l++) {
                    for (int e = 0; e < model.numExperts(); e++) {
                        if (selected[l][e]) {
                            for (int next : transitions.successors(l, e, SUCCESSORS)) {
                                predicted[l][next] = true;
                            }
                        }
                    }
                }
            }
            for (PolicyRun run : runs) {
                Policy policy = run.policy(pass);
                PassResult result = WaferEngine.run(pass, policy, run.wafer);
                run.totals = run.totals.plus(new PolicyTotals(run.name, 1, result.tokens(), result.moeNs(),
                        result.hops(), result.localReads(), result.remoteReads()));
                if (run.copies != null) {
                    for (int l = 0; l < layers; l++) {
                        run.copies.afterLayer(l, policy.assign(pass, l, run.wafer), predicted[l], p.id());
                    }
                }
            }
            for (int t = 0; t < p.tokens(); t++) {
                transitions.add(p.previousIds(), t * perToken, p.ids(), t * perToken);
            }
        }
        Map<String, Outcome> out = new LinkedHashMap<>();
        for (PolicyRun run : runs) {
            out.put(run.name, new Outcome(run.totals, run.copies == null ? 0 : run.copies.copiesMade(),
                    run.copies == null ? 0 : run.copies.evictions()));
        }
        return out;
    }
}
