package io.expertcast.core.allocation;

/**
 * Which dies have an expert's weights in their LLC right now (Insight 2: layer-level predictions fill
 * the LLC). Algorithm 1 costs such a die's weights as an LLC hit instead of a fetch over the mesh.
 */
@FunctionalInterface
public interface LlcResidency {
    /** No LLC state known: every non-holder fetches over the mesh. */
    LlcResidency NONE = (moeLayer, expert, die) -> false;

    boolean cached(int moeLayer, int expert, int die);
}
