package io.expertcast.core.placement;

import java.util.Arrays;

/**
 * One MoE layer's placement in EPLB's and SGLang's terms: {@code dies} dies (GPUs) of
 * {@code slotsPerDie} physical slots each, die d holding slots d x slotsPerDie ..; per slot its
 * logical expert (phy2log) and which replica of that expert it is (0 = the first).
 */
public record LayerPlacement(int dies, int[] physicalToLogical, int[] replicaRank, int numLogical) {

    public LayerPlacement {
        if (dies <= 0 || physicalToLogical.length == 0 || physicalToLogical.length % dies != 0
                || replicaRank.length != physicalToLogical.length) {
            throw new IllegalArgumentException(physicalToLogical.length + " physical slots do not split evenly over "
                    + dies + " dies");
        }
        boolean[] present = new boolean[numLogical];
        for (int logical : physicalToLogical) {
            if (logical < 0 || logical >= numLogical) {
                throw new IllegalArgumentException("slot holds expert " + logical + ", outside 0.." + (numLogical - 1));
            }
            present[logical] = true;
        }
        for (int e = 0; e < numLogical; e++) {
            if (!present[e]) {
                throw new IllegalArgumentException("expert " + e + " has no physical slot");
            }
        }
    }

    /** Slots in the order given, replica ranks by order of appearance. */
    public static LayerPlacement of(int dies, int[] physicalToLogical, int numLogical) {
        int[] rank = new int[physicalToLogical.length];
        int[] seen = new int[numLogical];
        for (int p = 0; p < physicalToLogical.length; p++) {
            int e = physicalToLogical[p];
            if (e >= 0 && e < numLogical) {
                rank[p] = seen[e]++;
            }
        }
        return new LayerPlacement(dies, physicalToLogical.clone(), rank, numLogical);
    }

    /** Die by die, each die's experts (in slot order). */
    public static LayerPlacement ofDies(int[][] expertsByDie, int numLogical) {
        int slots = expertsByDie[0].length;
        int[] phy2log = new int[expertsByDie.length * slots];
        for (int d = 0; d < expertsByDie.length; d++) {
            if (expertsByDie[d].length != slots) {
                throw new IllegalArgumentException("die " + d + " has " + expertsByDie[d].length + " slots, die 0 " + slots);
            }
            System.arraycopy(expertsByDie[d], 0, phy2log, d * slots, slots);
        }
        return of(expertsByDie.length, phy2log, numLogical);
    }

    public int slotsPerDie() {
        return physicalToLogical.length / dies;
    }

    public int physicalSlots() {
        return physicalToLogical.length;
    }

    public int dieOfSlot(int slot) {
        return slot / slotsPerDie();
    }

    /** logcnt: replicas per logical expert. */
    public int[] logicalCount() {
        int[] count = new int[numLogical];
        for (int e : physicalToLogical) {
            count[e]++;
        }
        return count;
    }

    /** log2phy: per logical expert its physical slots by replica rank, padded with -1 to {@code width}. */
    public int[][] logicalToPhysical(int width) {
        int[][] map = new int[numLogical][width];
        for (int[] row : map) {
            Arrays.fill(row, -1);
        }
        for (int p = 0; p < physicalToLogical.length; p++) {
            if (replicaRank[p] < width) {
                map[physicalToLogical[p]][replicaRank[p]] = p;
            }
        }
        return map;
    }

    /** Whether die {@code die} holds a copy of {@code expert}. */
    public boolean holds(int die, int expert) {
        int s = slotsPerDie();
        for (int p = die * s; p < (die + 1) * s; p++) {
            if (physicalToLogical[p] == expert) {
                return true;
            }
        }
        return false;
    }

    /** Load per die when each expert's load splits evenly over its replicas (EPLB's assumption). */
    public double[] dieLoad(double[] load) {
        if (load.length != numLogical) {
            throw new IllegalArgumentException("load has " + load.length + " experts, placement " + numLogical);
        }
        int[] count = logicalCount();
        double[] dieLoad = new double[dies];
        for (int p = 0; p < physicalToLogical.length; p++) {
            int e = physicalToLogical[p];
            dieLoad[dieOfSlot(p)] += load[e] / count[e];
        }
        return dieLoad;
    }

    /** Max over mean die load (1 = perfect balance); NaN for a layer without load. */
    public double maxOverMean(double[] load) {
        double[] dieLoad = dieLoad(load);
        double total = 0;
        double max = 0;
        for (double l : dieLoad) {
            total += l;
            max = Math.max(max, l);
        }
        return total == 0 ? Double.NaN : max / (total / dies);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LayerPlacement p && p.dies == dies && p.numLogical == numLogical
                && Arrays.equals(p.physicalToLogical, physicalToLogical) && Arrays.equals(p.replicaRank, replicaRank);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(physicalToLogical) * 31 + dies;
    }

    @Override
    public String toString() {
        return "LayerPlacement[dies=" + dies + ", phy2log=" + Arrays.toString(physicalToLogical) + "]";
    }
}
