package io.expertcast.allocator;

import io.expertcast.core.placement.PlacementPolicies;
import io.expertcast.core.placement.WorkloadProfiles;

/**
 * How the allocator re-places experts from its workload profiles (Insight 6): which policy gives the
 * target placement, how often the current traffic mix is re-placed (also the window in which a tag
 * counts as active), how many experts one rebalance may move per MoE layer, and how fast a tag's
 * profile forgets.
 *
 * @param policy           placement policy by name ({@link PlacementPolicies})
 * @param periodMs         wall-clock period of the scheduled rebalance; a tag unseen for longer starts anew
 * @param maxMovesPerLayer moved experts (REPLICATE and MIGRATE; EVICTs are free) per MoE layer per rebalance
 * @param decay            weight a tag's profile keeps at each of its observations (one per forward pass)
 */
public record ProfileRebalancing(String policy, long periodMs, int maxMovesPerLayer, double decay) {
    public static final String DEFAULT_POLICY = "hot-replicate";
    public static final int DEFAULT_MAX_MOVES_PER_LAYER = 8;
    /** About the last thousand passes of a tag: a minute or so of decode at tens of passes per second. */
    public static final double DEFAULT_DECAY = 0.999;
    public static final ProfileRebalancing DEFAULT = new ProfileRebalancing(DEFAULT_POLICY,
            WorkloadProfiles.DEFAULT_PERIOD_MS, DEFAULT_MAX_MOVES_PER_LAYER, DEFAULT_DECAY);

    public ProfileRebalancing {
        PlacementPolicies.byName(policy); // IllegalArgumentException listing the known names
        if (periodMs <= 0) {
            throw new IllegalArgumentException("rebalance period must be positive, got " + periodMs + " ms");
        }
        if (maxMovesPerLayer < 0) {
            throw new IllegalArgumentException("max moves per layer must be >= 0, got " + maxMovesPerLayer);
        }
        if (!(decay >= 0 && decay <= 1)) {
            throw new IllegalArgumentException("profile decay must be in [0, 1], got " + decay);
        }
    }
}
