package io.expertcast.core.placement;

import io.expertcast.core.hardware.Mesh;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Insight 6, workload-aware serving: per workload tag (benchmark, subject or language; Ob4 found
 * Chinese and English MMLU share only 2 hot experts) a load profile per MoE layer learned from
 * history with exponential decay, so it follows drift. A tag's profile is applied when its traffic
 * starts ({@link #firstSeen}) and on a schedule ({@link #due}; the paper suggests every 10 minutes),
 * each time through a placement policy and a {@link Rebalance} bounded by a maximum of moved experts.
 */
public final class WorkloadProfiles {
    /** The paper's suggested re-placement period. */
    public static final long DEFAULT_PERIOD_MS = 10 * 60 * 1000;

    private final int layers;
    private final int experts;
    private final double decay;
    private final long periodMs;
    private final Map<String, double[][]> profiles = new LinkedHashMap<>();
    private long lastAppliedMs = Long.MIN_VALUE;

    /**
     * @param decay weight kept by the old profile at each observation (0 = last batch only, 1 = no decay)
     */
    public WorkloadProfiles(int layers, int experts, double decay, long periodMs) {
        if (layers <= 0 || experts <= 0 || !(decay >= 0 && decay <= 1) || periodMs <= 0) {
            throw new IllegalArgumentException("profiles need positive layers, experts and period, decay in [0, 1]");
        }
        this.layers = layers;
        this.experts = experts;
        this.decay = decay;
        this.periodMs = periodMs;
    }

    /**
     * Adds one observation (tokens per expert of one MoE layer) to the tag's profile. Returns true
     * the first time the tag is seen: the caller applies its profile (or the global one) then.
     */
    public boolean observe(String tag, int layer, int[] tokensPerExpert) {
        if (layer < 0 || layer >= layers || tokensPerExpert.length != experts) {
            throw new IllegalArgumentException("observation for MoE layer " + layer + " with " + tokensPerExpert.length
                    + " experts; profiles have " + layers + " layers of " + experts);
        }
        boolean first = !profiles.containsKey(tag);
        double[] row = profiles.computeIfAbsent(tag, t -> new double[layers][experts])[layer];
        for (int e = 0; e < experts; e++) {
            row[e] = row[e] * decay + tokensPerExpert[e];
        }
        return first;
    }

    public boolean firstSeen(String tag) {
        return !profiles.containsKey(tag);
    }

    public Optional<double[][]> profile(String tag) {
        double[][] p = profiles.get(tag);
        if (p == null) {
            return Optional.empty();
        }
        double[][] copy = new double[layers][];
        for (int l = 0; l < layers; l++) {
            copy[l] = p[l].clone();
        }
        return Optional.of(copy);
    }

    public List<String> tags() {
        return List.copyOf(profiles.keySet());
    }

    /** Whether the schedule calls for a re-placement at {@code nowMs}; marks it done when it does. */
    public boolean due(long nowMs) {
        if (lastAppliedMs != Long.MIN_VALUE && nowMs - lastAppliedMs < periodMs) {
            return false;
        }
        lastAppliedMs = nowMs;
        return true;
    }

    /**
     * Places every MoE layer for {@code tag}'s profile with {@code policy} and moves the table toward
     * it with at most {@code maxMovesPerLayer} moved experts per layer. Empty if the tag is unknown.
     */
    public List<PlacementMove> apply(String tag, ExpertDistributionTable table, PlacementPolicy policy, int redundant,
                                     int maxMovesPerLayer, int slotsPerDie, long expertBytes, Mesh mesh) {
        double[][] p = profiles.get(tag);
        List<PlacementMove> moves = new ArrayList<>();
        if (p == null) {
            return moves;
        }
        for (int l = 0; l < layers; l++) {
            LayerPlacement target = policy.place(PlacementRequest.of(p[l], table.dies(), redundant));
            moves.addAll(Rebalance.toward(table, l, target, p[l], maxMovesPerLayer, slotsPerDie, expertBytes, mesh));
        }
        return moves;
    }
}
