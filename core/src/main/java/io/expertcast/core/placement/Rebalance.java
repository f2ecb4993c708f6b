package io.expertcast.core.placement;

import io.expertcast.core.hardware.Mesh;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Moves the live table of one MoE layer toward a target placement with at most {@code maxMoves}
 * moved experts (Insight 6: moves cost D2D traffic, and EPLB users complain about full reshuffles).
 * Copies the target adds are taken hottest first (load per target copy, then expert, then die):
 * a copy the target drops from another die becomes a MIGRATE from there, otherwise a REPLICATE
 * from the nearest holder; a full die first EVICTs a copy the target drops from it whose expert
 * keeps another copy. EVICTs move no bytes and do not count as moves. Copies the target no longer
 * wants are evicted at the end only when the expert keeps at least as many copies as the target
 * gives it, so a bounded rebalance never leaves an expert with fewer copies than it had. Limit: a
 * swap of two single-copy experts between two full dies needs a free slot, so give each die at
 * least one slot more than the target fills (the HBM share usually has several); without one such
 * adds are skipped and the table stays valid, short of the target.
 */
public final class Rebalance {
    private Rebalance() {
    }

    /**
     * Plans the moves and applies them to {@code table}.
     *
     * @param slotsPerDie copies of this layer a die may hold (its HBM share, {@link HbmCapacity})
     */
    public static List<PlacementMove> toward(ExpertDistributionTable table, int layer, LayerPlacement target,
                                             double[] load, int maxMoves, int slotsPerDie, long expertBytes,
                                             Mesh mesh) {
        int experts = table.numExperts();
        int dies = table.dies();
        if (target.numLogical() != experts || target.dies() != dies || load.length != experts) {
            throw new IllegalArgumentException("target places " + target.numLogical() + " experts on " + target.dies()
                    + " dies, table has " + experts + " on " + dies + ", load " + load.length);
        }
        if (maxMoves < 0) {
            throw new IllegalArgumentException("max moves must be >= 0, got " + maxMoves);
        }
        int[] targetCopies = target.logicalCount();
        boolean[][] wanted = new boolean[dies][experts];
        for (int p = 0; p < target.physicalSlots(); p++) {
            wanted[target.dieOfSlot(p)][target.physicalToLogical()[p]] = true;
        }
        List<int[]> adds = new ArrayList<>();
        for (int d = 0; d < dies; d++) {
            for (int e = 0; e < experts; e++) {
                if (wanted[d][e] && !table.holds(layer, e, d)) {
                    adds.add(new int[] {e, d});
                }
            }
        }
        adds.sort(Comparator.comparingDouble((int[] a) -> -load[a[0]] / targetCopies[a[0]])
                .thenComparingInt(a -> a[0]).thenComparingInt(a -> a[1]));
        List<PlacementMove> moves = new ArrayList<>();
        int moved = 0;
        // Passes until nothing changes: an add skipped because its die was full may fit once a later
        // migration has taken a copy off that die.
        boolean progress = true;
        while (progress && moved < maxMoves) {
            progress = false;
            for (int[] add : adds) {
                int e = add[0];
                int d = add[1];
                if (moved >= maxMoves || table.holds(layer, e, d)) {
                    continue;
                }
                if (table.copiesOnDie(layer, d) >= slotsPerDie && !evictOneFor(table, layer, d, wanted, load, moves)) {
                    continue;
                }
                int from = -1;
                for (int h : table.holders(layer, e)) {
                    if (!wanted[h][e] && (from < 0 || mesh.hops(h, d) < mesh.hops(from, d))) {
                        from = h;
                    }
                }
                PlacementMove move = from >= 0 ? PlacementMove.migrate(layer, e, from, d, expertBytes)
                        : PlacementMove.replicate(layer, e, table.nearestHolder(layer, e, d, mesh), d, expertBytes);
                move.applyTo(table);
                moves.add(move);
                moved++;
                progress = true;
            }
        }
        for (int d = 0; d < dies; d++) {
            for (int e = 0; e < experts; e++) {
                if (!wanted[d][e] && table.holds(layer, e, d) && table.copies(layer, e) > targetCopies[e]) {
                    PlacementMove move = PlacementMove.evict(layer, e, d);
                    move.applyTo(table);
                    moves.add(move);
                }
            }
        }
        return moves;
    }

    /** Evicts from die d the coolest copy the target drops there whose expert keeps another copy. */
    private static boolean evictOneFor(ExpertDistributionTable table, int layer, int d, boolean[][] wanted,
                                       double[] load, List<PlacementMove> moves) {
        int victim = -1;
        for (int e = 0; e < table.numExperts(); e++) {
            if (!wanted[d][e] && table.holds(layer, e, d) && table.copies(layer, e) > 1
                    && (victim < 0 || load[e] < load[victim])) {
                victim = e;
            }
        }
        if (victim < 0) {
            return false;
        }
        PlacementMove move = PlacementMove.evict(layer, victim, d);
        move.applyTo(table);
        moves.add(move);
        return true;
    }

    /** Moved experts (REPLICATE and MIGRATE) among {@code moves}. */
    public static int movedExperts(List<PlacementMove> moves) {
        return (int) moves.stream().filter(m -> m.action() != PlacementMove.Action.EVICT).count();
    }

    /** Sets the table's layer to exactly {@code placement}, however many moves that takes (an initial placement). */
    public static ExpertDistributionTable setLayer(ExpertDistributionTable table, int layer,
                                                       LayerPlacement placement) {
        for (int p = 0; p < placement.physicalSlots(); p++) {
            table.replicate(layer, placement.physicalToLogical()[p], placement.dieOfSlot(p));
        }
        for (int e = 0; e < table.numExperts(); e++) {
            for (int d : table.holders(layer, e)) {
                if (!placement.holds(d, e)) {
                    table.evict(layer, e, d);
                }
            }
        }
        return table;
    }
}
