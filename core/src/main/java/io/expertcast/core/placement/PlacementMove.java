package io.expertcast.core.placement;

/**
 * One change of the expert distribution table, as the moe.placement-commands topic carries it.
 *
 * @param fromDie the die the weights are read from (-1 for EVICT)
 * @param toDie   the die that gains a copy (-1 for EVICT)
 * @param evictDie the die that loses its copy (MIGRATE: fromDie; EVICT: the die; REPLICATE: -1)
 * @param bytes   weight bytes moved over the mesh (0 for EVICT)
 */
public record PlacementMove(Action action, int layer, int expert, int fromDie, int toDie, int evictDie, long bytes) {
    public enum Action { REPLICATE, MIGRATE, EVICT }

    public static PlacementMove replicate(int layer, int expert, int from, int to, long bytes) {
        return new PlacementMove(Action.REPLICATE, layer, expert, from, to, -1, bytes);
    }

    public static PlacementMove migrate(int layer, int expert, int from, int to, long bytes) {
        return new PlacementMove(Action.MIGRATE, layer, expert, from, to, from, bytes);
    }

    public static PlacementMove evict(int layer, int expert, int die) {
        return new PlacementMove(Action.EVICT, layer, expert, -1, -1, die, 0);
    }

    /** Applies the move; IllegalArgumentException for an expert, layer or die the table does not have. */
    public void applyTo(ExpertDistributionTable table) {
        switch (action) {
            case REPLICATE -> table.replicate(layer, expert, toDie);
            case MIGRATE -> {
                if (!table.holds(layer, expert, fromDie)) {
                    throw new IllegalArgumentException("expert " + expert + " of MoE layer " + layer
                            + " has no copy on die " + fromDie + " to migrate");
                }
                table.replicate(layer, expert, toDie);
                table.evict(layer, expert, fromDie);
            }
            case EVICT -> table.evict(layer, expert, evictDie);
        }
    }
}
