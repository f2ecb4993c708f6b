package io.expertcast.core.placement;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * Insight 5, expert-pair separation: replicas as EPLB (the highest load per replica, one at a time),
 * then physical experts packed heaviest first. Each goes to a die with room among those whose load
 * is within {@link #BALANCE_SLACK} of the mean die load above the lightest such die ("when balance
 * allows"), choosing the one where it is least co-activated with the experts already there
 * (sum of pair counts), then the lighter, then the lower id. Two copies of one expert never share a
 * die when another die has room. Without pair counts this is plain greedy balanced packing.
 */
public final class PairSeparationPolicy implements PlacementPolicy {
    /** Extra load, as a fraction of the mean die load, a die may carry to keep a pair apart. */
    public static final double BALANCE_SLACK = 0.05;

    @Override
    public String name() {
        return "pair-separate";
    }

    @Override
    public String description() {
        return "Insight 5: EPLB-style replicas, then packing that keeps co-activated pairs on different dies within 5 % balance slack";
    }

    @Override
    public LayerPlacement place(PlacementRequest r) {
        int experts = r.experts();
        int dies = r.dies();
        int slots = r.slotsPerDie();
        int physical = experts + r.redundant();
        double[] load = r.load();
        double[][] pairs = r.pairCounts();

        int[] phyToLog = new int[physical];
        int[] copies = new int[experts];
        for (int e = 0; e < experts; e++) {
            phyToLog[e] = e;
            copies[e] = 1;
        }
        for (int p = experts; p < physical; p++) {
            int best = 0;
            for (int e = 1; e < experts; e++) {
                if (load[e] * copies[best] > load[best] * copies[e]) {
                    best = e;
                }
            }
            phyToLog[p] = best;
            copies[best]++;
        }
        double[] weight = new double[physical];
        double total = 0;
        for (int p = 0; p < physical; p++) {
            weight[p] = load[phyToLog[p]] / copies[phyToLog[p]];
            total += weight[p];
        }
        double slack = BALANCE_SLACK * total / dies;
        Integer[] order = IntStream.range(0, physical).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer p) -> weight[p]).reversed()); // stable

        int[][] byDie = new int[dies][slots];
        int[] used = new int[dies];
        double[] dieLoad = new double[dies];
        for (int p : order) {
            int e = phyToLog[p];
            boolean anyWithout = false;
            for (int d = 0; d < dies; d++) {
                anyWithout |= used[d] < slots && !contains(byDie[d], used[d], e);
            }
            double lightest = Double.POSITIVE_INFINITY;
            for (int d = 0; d < dies; d++) {
                if (eligible(byDie[d], used[d], slots, e, anyWithout)) {
                    lightest = Math.min(lightest, dieLoad[d]);
                }
            }
            int chosen = -1;
            double chosenConflict = 0;
            for (int d = 0; d < dies; d++) {
                if (!eligible(byDie[d], used[d], slots, e, anyWithout) || dieLoad[d] > lightest + slack) {
                    continue;
                }
                double conflict = 0;
                if (pairs != null) {
                    for (int i = 0; i < used[d]; i++) {
                        conflict += pairs[e][byDie[d][i]];
                    }
                }
                if (chosen < 0 || conflict < chosenConflict
                        || (conflict == chosenConflict && dieLoad[d] < dieLoad[chosen])) {
                    chosen = d;
                    chosenConflict = conflict;
                }
            }
            byDie[chosen][used[chosen]++] = e;
            dieLoad[chosen] += weight[p];
        }
        return LayerPlacement.ofDies(byDie, experts);
    }

    private static boolean eligible(int[] die, int used, int slots, int expert, boolean requireWithout) {
        return used < slots && (!requireWithout || !contains(die, used, expert));
    }

    private static boolean contains(int[] die, int used, int expert) {
        for (int i = 0; i < used; i++) {
            if (die[i] == expert) {
                return true;
            }
        }
        return false;
    }

    /** Co-activated pairs that share a die, weighted by their counts (what this policy minimises). */
    public static double colocatedPairCount(LayerPlacement placement, double[][] pairs) {
        int slots = placement.slotsPerDie();
        int[] phy = placement.physicalToLogical();
        double sum = 0;
        for (int d = 0; d < placement.dies(); d++) {
            for (int i = d * slots; i < (d + 1) * slots; i++) {
                for (int j = i + 1; j < (d + 1) * slots; j++) {
                    if (phy[i] != phy[j]) {
                        sum += pairs[phy[i]][phy[j]];
                    }
                }
            }
        }
        return sum;
    }
}
