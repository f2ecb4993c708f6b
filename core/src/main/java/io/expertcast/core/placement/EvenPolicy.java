package io.expertcast.core.placement;

/**
 * EP-like contiguous placement (SGLang's default, the paper's Base/EP table): die d holds experts
 * d x E/D .. (d+1) x E/D - 1, no replicas.
 */
public final class EvenPolicy implements PlacementPolicy {
    @Override
    public String name() {
        return "even";
    }

    @Override
    public String description() {
        return "contiguous expert-parallel placement, no replicas (SGLang's default; the paper's Base/EP)";
    }

    @Override
    public LayerPlacement place(PlacementRequest request) {
        if (request.redundant() > 0) {
            throw new IllegalArgumentException("the even policy places no replicas; use 0 redundant experts");
        }
        int experts = request.experts();
        int[] phy2log = new int[experts];
        for (int e = 0; e < experts; e++) {
            phy2log[e] = e;
        }
        return LayerPlacement.of(request.dies(), phy2log, experts);
    }
}
