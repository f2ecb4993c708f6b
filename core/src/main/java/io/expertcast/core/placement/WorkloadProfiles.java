package io.expertcast.core.placement;

import io.expertcast.core.hardware.Mesh;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntFunction;

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
    /**
     * A layer whose die-load balance is within this fraction of the target's is left as it is: a
     * drifting profile gives targets that differ only in ties (which of two equally loaded dies
     * takes a replica), and following them would move copies back and forth for nothing.
     */
    public static final double BALANCE_TOLERANCE = 0.01;

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

    /** Forgets a tag's profile (its state is bounded by the caller); whether it had one. */
    public boolean remove(String tag) {
        return profiles.remove(tag) != null;
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
     * Puts back a tag's profile as a state store kept it (replacing the one in memory), so a
     * restarted stream task continues from its changelogged history.
     */
    public void restore(String tag, double[][] profile) {
        if (profile.length != layers) {
            throw new IllegalArgumentException("profile of " + profile.length + " layers; profiles have " + layers);
        }
        double[][] copy = new double[layers][];
        for (int l = 0; l < layers; l++) {
            if (profile[l].length != experts) {
                throw new IllegalArgumentException("profile layer " + l + " has " + profile[l].length + " experts; profiles have "
                        + experts);
            }
            copy[l] = profile[l].clone();
        }
        profiles.put(tag, copy);
    }

    /**
     * The current traffic mix: the sum of the given tags' profiles, [MoE layer][expert]. Each profile
     * weighs what its tag brought per observation, so tags sharing the batches weigh by their share.
     * Tags without a profile add nothing.
     */
    public double[][] mix(Collection<String> tags) {
        double[][] sum = new double[layers][experts];
        for (String tag : tags) {
            double[][] p = profiles.get(tag);
            if (p == null) {
                continue;
            }
            for (int l = 0; l < layers; l++) {
                for (int e = 0; e < experts; e++) {
                    sum[l][e] += p[l][e];
                }
            }
        }
        return sum;
    }

    /**
     * Places every MoE layer for {@code tag}'s profile with {@code policy} and moves the table toward
     * it with at most {@code maxMovesPerLayer} moved experts per layer. Empty if the tag is unknown.
     */
    public List<PlacementMove> apply(String tag, ExpertDistributionTable table, PlacementPolicy policy, int redundant,
                                     int maxMovesPerLayer, int slotsPerDie, long expertBytes, Mesh mesh) {
        double[][] p = profiles.get(tag);
        return p == null ? new ArrayList<>()
                : rebalance(p, table, policy, redundant, maxMovesPerLayer, slotsPerDie, expertBytes, mesh);
    }

    /**
     * Places every MoE layer for {@code load} ([MoE layer][expert]) with {@code policy} and moves the
     * table toward it ({@link Rebalance#toward}) with at most {@code maxMovesPerLayer} moved experts per
     * layer; the moves are applied to {@code table}. A layer without load says nothing about where its
     * experts belong and is left as it is, and so is a layer already balanced within
     * {@link #BALANCE_TOLERANCE} of the target.
     */
    public static List<PlacementMove> rebalance(double[][] load, ExpertDistributionTable table, PlacementPolicy policy,
                                                int redundant, int maxMovesPerLayer, int slotsPerDie, long expertBytes,
                                                Mesh mesh) {
        return rebalance(load, null, table, policy, redundant, maxMovesPerLayer, slotsPerDie, expertBytes, mesh);
    }

    /**
     * As above, each layer's request carrying its co-activation counts ({@link PlacementRequest#pairCounts},
     * [expert][expert], null for a layer without) from {@code pairCounts} (null: none), which
     * pair-separate places with and other policies ignore. With pair counts a layer balanced within
     * the tolerance is still moved when its table keeps more co-activations on one die than the
     * target does (by more than the same tolerance): separation is what such a re-placement is for.
     */
    public static List<PlacementMove> rebalance(double[][] load, IntFunction<double[][]> pairCounts,
                                                ExpertDistributionTable table, PlacementPolicy policy,
                                                int redundant, int maxMovesPerLayer, int slotsPerDie, long expertBytes,
                                                Mesh mesh) {
        if (load.length != table.numMoeLayers()) {
            throw new IllegalArgumentException("load of " + load.length + " MoE layers, table has " + table.numMoeLayers());
        }
        List<PlacementMove> moves = new ArrayList<>();
        for (int l = 0; l < load.length; l++) {
            double total = 0;
            for (double x : load[l]) {
                total += x;
            }
            if (total <= 0) {
                continue;
            }
            double[][] pairs = pairCounts == null ? null : pairCounts.apply(l);
            LayerPlacement target = policy.place(new PlacementRequest(load[l], table.dies(), redundant, 1, 1, pairs));
            if (maxOverMean(table, l, load[l]) <= target.maxOverMean(load[l]) * (1 + BALANCE_TOLERANCE)
                    && (pairs == null || colocated(table, l, pairs)
                    <= PairSeparationPolicy.colocatedPairCount(target, pairs) * (1 + BALANCE_TOLERANCE))) {
                continue;
            }
            moves.addAll(Rebalance.toward(table, l, target, load[l], maxMovesPerLayer, slotsPerDie, expertBytes, mesh));
        }
        return moves;
    }

    /** Co-activations of one layer of the table whose two experts share a die (as {@link PairSeparationPolicy#colocatedPairCount}). */
    static double colocated(ExpertDistributionTable table, int layer, double[][] pairs) {
        double sum = 0;
        int experts = table.numExperts();
        for (int d = 0; d < table.dies(); d++) {
            for (int i = 0; i < experts; i++) {
                if (!table.holds(layer, i, d)) {
                    continue;
                }
                for (int j = i + 1; j < experts; j++) {
                    if (pairs[i][j] != 0 && table.holds(layer, j, d)) {
                        sum += pairs[i][j];
                    }
                }
            }
        }
        return sum;
    }

    /**
     * Max over mean die load of one layer of the table, each expert's load split evenly over its
     * copies (as {@link LayerPlacement#maxOverMean}).
     */
    static double maxOverMean(ExpertDistributionTable table, int layer, double[] load) {
        double[] dieLoad = new double[table.dies()];
        int[] holders = new int[table.dies()];
        double total = 0;
        for (int e = 0; e < load.length; e++) {
            int n = table.holders(layer, e, holders);
            for (int i = 0; i < n; i++) {
                dieLoad[holders[i]] += load[e] / n;
            }
            total += load[e];
        }
        double max = 0;
        for (double x : dieLoad) {
            max = Math.max(max, x);
        }
        return max / (total / table.dies());
    }
}
