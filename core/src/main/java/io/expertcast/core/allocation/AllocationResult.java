package io.expertcast.core.allocation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The plan of one MoE layer in one forward pass: (expert, die, tokens) assignments sorted by expert
 * then die, the time planned on every die, and the load-balance figures the allocator publishes.
 * Immutable; a token selecting k experts counts once per expert.
 */
public final class AllocationResult {
    /** One row of the plan. */
    public record ExpertAssignment(int expert, int die, int tokens) {
    }

    private final int[] experts;
    private final int[] dies;
    private final int[] tokens;
    private final double[] dieNs;
    private final int[] dieTokens;
    private final int remoteTokens;
    private final long remoteHops;
    private final int totalTokens;

    AllocationResult(int[] experts, int[] dies, int[] tokens, double[] dieNs, int[] dieTokens, int remoteTokens,
                     long remoteHops) {
        this.experts = experts;
        this.dies = dies;
        this.tokens = tokens;
        this.dieNs = dieNs;
        this.dieTokens = dieTokens;
        this.remoteTokens = remoteTokens;
        this.remoteHops = remoteHops;
        int total = 0;
        for (int t : tokens) {
            total += t;
        }
        this.totalTokens = total;
    }

    /** Number of assignments. */
    public int size() { return experts.length; }
    public int expert(int i) { return experts[i]; }
    public int die(int i) { return dies[i]; }
    public int tokens(int i) { return tokens[i]; }

    public List<ExpertAssignment> assignments() {
        List<ExpertAssignment> out = new ArrayList<>(experts.length);
        for (int i = 0; i < experts.length; i++) {
            out.add(new ExpertAssignment(experts[i], dies[i], tokens[i]));
        }
        return out;
    }

    /** Token-expert selections planned (sum of every assignment's tokens). */
    public int totalTokens() { return totalTokens; }

    /** Tokens placed on a die that holds no copy of their expert (its weights cross the mesh). */
    public int remoteTokens() { return remoteTokens; }

    /**
     * Sum over the pieces placed on a die holding no copy (nor an LLC copy) of the hops to the
     * expert's nearest holder: the weight reads that cross the mesh, counted as the emulator counts hops.
     */
    public long remoteHops() { return remoteHops; }

    /** Planned ns per die: roofline compute of its experts plus weight fetches, as costed by Algorithm 1. */
    public double[] dieNs() { return dieNs.clone(); }

    /** Tokens per die. */
    public int[] dieTokens() { return dieTokens.clone(); }

    /** The layer's time on the wafer: the slowest die. */
    public double maxDieNs() {
        double max = 0;
        for (double ns : dieNs) {
            max = Math.max(max, ns);
        }
        return max;
    }

    public int maxDieTokens() {
        int max = 0;
        for (int t : dieTokens) {
            max = Math.max(max, t);
        }
        return max;
    }

    /** Mean tokens over all dies of the mesh, idle ones included. */
    public double meanDieTokens() {
        return dieTokens.length == 0 ? 0 : (double) totalTokens / dieTokens.length;
    }
}
