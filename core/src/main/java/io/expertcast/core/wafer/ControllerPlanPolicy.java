package io.expertcast.core.wafer;

import java.util.List;

/**
 * Allo: executes the allocator's plan for the layer, (expert, die, tokens) triples, checked against
 * the pass: every die inside the mesh, every expert in range, and per expert exactly the tokens the
 * pass routed to it (a plan that drops or invents work would be a silent wrong result).
 */
public final class ControllerPlanPolicy implements Policy {
    private final String name;
    private final List<int[][]> plansByLayer;

    /** @param plansByLayer per MoE layer, the plan's triples {expert, die, tokens} */
    public ControllerPlanPolicy(List<int[][]> plansByLayer) {
        this(Policies.ALLO, plansByLayer);
    }

    public ControllerPlanPolicy(String name, List<int[][]> plansByLayer) {
        this.name = name;
        this.plansByLayer = plansByLayer;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public LayerWork assign(PassWorkload pass, int moeLayer, WaferContext wafer) {
        if (plansByLayer == null || moeLayer >= plansByLayer.size() || plansByLayer.get(moeLayer) == null) {
            throw new InvalidPlanException("no plan for MoE layer " + moeLayer + " of pass " + pass.passId());
        }
        int experts = pass.model().numExperts();
        int[] expected = pass.tokensPerExpert(moeLayer);
        int[] planned = new int[experts];
        LayerWork work = new LayerWork(wafer.mesh().dies(), experts);
        for (int[] a : plansByLayer.get(moeLayer)) {
            int expert = a[0];
            int die = a[1];
            int tokens = a[2];
            if (expert < 0 || expert >= experts) {
                throw new InvalidPlanException("plan for pass " + pass.passId() + " layer " + moeLayer
                        + " names expert " + expert + " (model has " + experts + ")");
            }
            if (!wafer.mesh().contains(die)) {
                throw new InvalidPlanException("plan for pass " + pass.passId() + " layer " + moeLayer
                        + " sends tokens to die " + die + " outside the " + wafer.mesh().rows() + "x"
                        + wafer.mesh().cols() + " mesh");
            }
            if (tokens <= 0) {
                throw new InvalidPlanException("plan for pass " + pass.passId() + " layer " + moeLayer
                        + " assigns " + tokens + " tokens");
            }
            planned[expert] += tokens;
            work.add(die, expert, tokens);
        }
        for (int e = 0; e < experts; e++) {
            if (planned[e] != expected[e]) {
                throw new InvalidPlanException("plan for pass " + pass.passId() + " layer " + moeLayer + " gives expert "
                        + e + " " + planned[e] + " tokens, the pass routed " + expected[e] + " to it");
            }
        }
        return work;
    }
}
