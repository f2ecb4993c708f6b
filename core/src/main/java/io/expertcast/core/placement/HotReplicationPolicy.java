package io.expertcast.core.placement;

import java.util.ArrayList;
import java.util.List;

/**
 * Insight 4, popular-expert decentralisation with the fewest moves: every expert keeps its
 * contiguous EP home (nothing migrates), and the redundant slots each die has left (its HBM room,
 * {@link HbmCapacity}) take replicas of the hottest experts, one at a time: the expert with the
 * highest load per copy gets a copy on the least-loaded die that has room and no copy yet. Each
 * replica is one REPLICATE command, so R redundant experts cost exactly R moves from the EP table.
 */
public final class HotReplicationPolicy implements PlacementPolicy {
    @Override
    public String name() {
        return "hot-replicate";
    }

    @Override
    public String description() {
        return "Insight 4: EP homes stay, spare slots take copies of the highest load per copy on the least-loaded die";
    }

    @Override
    public LayerPlacement place(PlacementRequest r) {
        int experts = r.experts();
        int dies = r.dies();
        int slots = r.slotsPerDie();
        double[] load = r.load();
        List<List<Integer>> onDie = new ArrayList<>();
        for (int d = 0; d < dies; d++) {
            onDie.add(new ArrayList<>());
        }
        boolean[][] holds = new boolean[dies][experts];
        int[] copies = new int[experts];
        double[] dieLoad = new double[dies];
        for (int e = 0; e < experts; e++) {
            int home = EvenPlacement.homeDie(e, experts, dies);
            onDie.get(home).add(e);
            holds[home][e] = true;
            copies[e] = 1;
            dieLoad[home] += load[e];
        }
        for (int d = 0; d < dies; d++) {
            if (onDie.get(d).size() > slots) {
                throw new IllegalArgumentException("die " + d + " has " + onDie.get(d).size() + " home experts but "
                        + slots + " slots");
            }
        }
        for (int added = 0; added < r.redundant(); added++) {
            int bestExpert = -1;
            int bestDie = -1;
            for (int e = 0; e < experts; e++) {
                if (bestExpert >= 0 && load[e] * copies[bestExpert] <= load[bestExpert] * copies[e]) {
                    continue; // not hotter per copy than the best so far (ties: lower id)
                }
                int die = lightestFreeDie(e, onDie, holds, dieLoad, slots);
                if (die >= 0) {
                    bestExpert = e;
                    bestDie = die;
                }
            }
            if (bestExpert < 0) {
                throw new IllegalStateException("no die has room for another replica");
            }
            int e = bestExpert;
            double before = load[e] / copies[e];
            double after = load[e] / (copies[e] + 1);
            for (int d = 0; d < dies; d++) {
                if (holds[d][e]) {
                    dieLoad[d] += after - before;
                }
            }
            dieLoad[bestDie] += after;
            holds[bestDie][e] = true;
            copies[e]++;
            onDie.get(bestDie).add(e);
        }
        int[][] byDie = new int[dies][];
        for (int d = 0; d < dies; d++) {
            byDie[d] = onDie.get(d).stream().mapToInt(Integer::intValue).toArray();
        }
        return LayerPlacement.ofDies(byDie, experts);
    }

    private static int lightestFreeDie(int expert, List<List<Integer>> onDie, boolean[][] holds, double[] dieLoad,
                                       int slots) {
        int best = -1;
        for (int d = 0; d < dieLoad.length; d++) {
            if (onDie.get(d).size() < slots && !holds[d][expert] && (best < 0 || dieLoad[d] < dieLoad[best])) {
                best = d;
            }
        }
        return best;
    }
}
