package io.expertcast.core.placement;

/**
 * What a placement policy places one MoE layer from.
 *
 * @param load       per logical expert its load (token count) in this layer
 * @param dies       dies (GPUs)
 * @param redundant  physical slots beyond one per logical expert; (experts + redundant) % dies == 0
 * @param groups     expert groups (EPLB's hierarchical policy; 1 = none)
 * @param nodes      server nodes (EPLB's hierarchical policy; 1 = none)
 * @param pairCounts co-activation counts [expert][expert] of this layer (symmetric), or null if unknown
 */
public record PlacementRequest(double[] load, int dies, int redundant, int groups, int nodes, double[][] pairCounts) {

    public PlacementRequest {
        if (load == null || load.length == 0) {
            throw new IllegalArgumentException("no load");
        }
        if (dies <= 0 || redundant < 0 || groups <= 0 || nodes <= 0) {
            throw new IllegalArgumentException("dies, groups and nodes must be positive and redundant >= 0");
        }
        if ((load.length + redundant) % dies != 0) {
            throw new IllegalArgumentException((load.length + redundant) + " physical experts (" + load.length + " + "
                    + redundant + " redundant) do not split evenly over " + dies + " dies");
        }
        for (int e = 0; e < load.length; e++) {
            if (!(load[e] >= 0)) {
                throw new IllegalArgumentException("load of expert " + e + " is " + load[e] + ", expected >= 0");
            }
        }
        if (pairCounts != null && pairCounts.length != load.length) {
            throw new IllegalArgumentException("pair counts cover " + pairCounts.length + " experts, load " + load.length);
        }
    }

    public static PlacementRequest of(double[] load, int dies, int redundant) {
        return new PlacementRequest(load, dies, redundant, 1, 1, null);
    }

    public int experts() {
        return load.length;
    }

    public int slotsPerDie() {
        return (load.length + redundant) / dies;
    }
}
