package io.expertcast.core.placement;

/** A way to place one MoE layer's experts on dies; chosen by name through {@link PlacementPolicies}. */
public interface PlacementPolicy {
    /** The name users pick it by ({@code place --policy NAME}). */
    String name();

    /** One line: what it does and which insight it implements. */
    String description();

    LayerPlacement place(PlacementRequest request);
}
