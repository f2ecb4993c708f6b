package io.expertcast.core.placement;

/** DeepSeek's EPLB ({@link EplbPlacement}), hierarchical when groups and nodes are given. */
public final class EplbPolicy implements PlacementPolicy {
    @Override
    public String name() {
        return "eplb";
    }

    @Override
    public String description() {
        return "DeepSeek EPLB: replicate the highest load per replica, then balanced packing (hierarchical over nodes/groups)";
    }

    @Override
    public LayerPlacement place(PlacementRequest r) {
        EplbPlacement.Layer layer = EplbPlacement.rebalance(r.load(), r.experts() + r.redundant(), r.groups(),
                r.nodes(), r.dies());
        return new LayerPlacement(r.dies(), layer.physicalToLogical(), layer.replicaRank(), r.experts());
    }
}
