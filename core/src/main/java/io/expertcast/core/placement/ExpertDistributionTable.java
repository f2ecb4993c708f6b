package io.expertcast.core.placement;

import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelShape;
import java.util.Arrays;

/**
 * The Global command processor's Expert Distribution Table (paper section on the wafer-scale case
 * study): per MoE layer and expert, one bit per die saying which dies hold a copy of its weights,
 * plus the expert's home die (the copy that is never evicted). Layers are MoE layer indexes
 * (0..numMoeLayers-1), not transformer layer numbers.
 *
 * <p>Bits are kept in a flat {@code long[]}, {@code words} longs per expert, so meshes of any size
 * work and a lookup allocates nothing (Algorithm 1 reads it once per expert per pass). Not
 * thread-safe: replicate/evict mutate in place; use {@link #copy()} to hand a snapshot away.
 */
public final class ExpertDistributionTable {
    private final int numMoeLayers;
    private final int numExperts;
    private final int dies;
    private final int words;
    private final long[] bits;
    private final int[] homeDie;

    private ExpertDistributionTable(int numMoeLayers, int numExperts, int dies) {
        if (numMoeLayers <= 0 || numExperts <= 0 || dies <= 0) {
            throw new IllegalArgumentException("table needs positive layers, experts and dies, got " + numMoeLayers
                    + ", " + numExperts + ", " + dies);
        }
        this.numMoeLayers = numMoeLayers;
        this.numExperts = numExperts;
        this.dies = dies;
        this.words = (dies + 63) >>> 6;
        this.bits = new long[numMoeLayers * numExperts * words];
        this.homeDie = new int[numMoeLayers * numExperts];
    }

    /**
     * The EP-like starting table: in every MoE layer expert e lives only on
     * {@link EvenPlacement#homeDie(int, int, int)}, the placement the paper's Base and EP baselines assume.
     */
    public static ExpertDistributionTable even(ModelShape model, int dies) {
        ExpertDistributionTable t = new ExpertDistributionTable(model.numMoeLayers(), model.numExperts(), dies);
        for (int layer = 0; layer < t.numMoeLayers; layer++) {
            for (int expert = 0; expert < t.numExperts; expert++) {
                int home = EvenPlacement.homeDie(expert, t.numExperts, dies);
                int slot = t.slot(layer, expert);
                t.homeDie[slot] = home;
                t.bits[slot * t.words + (home >>> 6)] |= 1L << home;
            }
        }
        return t;
    }

    /** An independent copy (later issues publish snapshots while the live table keeps changing). */
    public ExpertDistributionTable copy() {
        ExpertDistributionTable t = new ExpertDistributionTable(numMoeLayers, numExperts, dies);
        System.arraycopy(bits, 0, t.bits, 0, bits.length);
        System.arraycopy(homeDie, 0, t.homeDie, 0, homeDie.length);
        return t;
    }

    public int numMoeLayers() { return numMoeLayers; }
    public int numExperts() { return numExperts; }
    public int dies() { return dies; }

    public int homeDie(int layer, int expert) {
        return homeDie[slot(layer, expert)];
    }

    public boolean holds(int layer, int expert, int die) {
        checkDie(die);
        return (bits[slot(layer, expert) * words + (die >>> 6)] & (1L << die)) != 0;
    }

    /** Number of dies holding a copy (home included); always at least 1. */
    public int copies(int layer, int expert) {
        int base = slot(layer, expert) * words;
        int n = 0;
        for (int w = 0; w < words; w++) {
            n += Long.bitCount(bits[base + w]);
        }
        return n;
    }

    /** The dies holding a copy, ascending. */
    public int[] holders(int layer, int expert) {
        int[] out = new int[copies(layer, expert)];
        holders(layer, expert, out);
        return out;
    }

    /**
     * Writes the holder dies, ascending, into {@code out} (which must have room for
     * {@link #copies(int, int)} entries) and returns how many were written: the allocation-free form
     * Algorithm 1 uses.
     */
    public int holders(int layer, int expert, int[] out) {
        int base = slot(layer, expert) * words;
        int n = 0;
        for (int w = 0; w < words; w++) {
            long word = bits[base + w];
            while (word != 0) {
                out[n++] = (w << 6) + Long.numberOfTrailingZeros(word);
                word &= word - 1;
            }
        }
        return n;
    }

    /** Expert copies on {@code die} in one MoE layer. */
    public int copiesOnDie(int layer, int die) {
        checkDie(die);
        int n = 0;
        for (int expert = 0; expert < numExperts; expert++) {
            if ((bits[slot(layer, expert) * words + (die >>> 6)] & (1L << die)) != 0) {
                n++;
            }
        }
        return n;
    }

    /** Expert copies on {@code die} over all MoE layers (what its HBM must hold). */
    public int copiesOnDie(int die) {
        int n = 0;
        for (int layer = 0; layer < numMoeLayers; layer++) {
            n += copiesOnDie(layer, die);
        }
        return n;
    }

    /** The holder closest to {@code die} in mesh hops (ties: the lower die id); {@code die} itself if it holds one. */
    public int nearestHolder(int layer, int expert, int die, Mesh mesh) {
        checkDie(die);
        if (mesh.dies() != dies) {
            throw new IllegalArgumentException("mesh has " + mesh.dies() + " dies, table " + dies);
        }
        int base = slot(layer, expert) * words;
        int best = -1;
        int bestHops = Integer.MAX_VALUE;
        for (int w = 0; w < words; w++) {
            long word = bits[base + w];
            while (word != 0) {
                int holder = (w << 6) + Long.numberOfTrailingZeros(word);
                word &= word - 1;
                int hops = mesh.hops(die, holder);
                if (hops < bestHops) {
                    bestHops = hops;
                    best = holder;
                }
            }
        }
        return best;
    }

    /**
     * Sets one row: {@code home} plus {@code replicas} hold the expert, no other die does (a row read
     * back from the moe.placement topic).
     */
    public void set(int layer, int expert, int home, int[] replicas) {
        checkDie(home);
        for (int die : replicas) {
            checkDie(die);
        }
        int slot = slot(layer, expert);
        java.util.Arrays.fill(bits, slot * words, (slot + 1) * words, 0L);
        bits[slot * words + (home >>> 6)] |= 1L << home;
        for (int die : replicas) {
            bits[slot * words + (die >>> 6)] |= 1L << die;
        }
        homeDie[slot] = home;
    }

    /** Adds a copy on {@code die} (Insight 4, replicating hot experts). Returns false if it was already there. */
    public boolean replicate(int layer, int expert, int die) {
        checkDie(die);
        int index = slot(layer, expert) * words + (die >>> 6);
        long mask = 1L << die;
        if ((bits[index] & mask) != 0) {
            return false;
        }
        bits[index] |= mask;
        return true;
    }

    /**
     * Drops the copy on {@code die}. Returns false if there was none. The last copy cannot be dropped
     * (an expert must live somewhere); dropping the home copy moves home to the lowest remaining holder.
     */
    public boolean evict(int layer, int expert, int die) {
        checkDie(die);
        int slot = slot(layer, expert);
        int index = slot * words + (die >>> 6);
        long mask = 1L << die;
        if ((bits[index] & mask) == 0) {
            return false;
        }
        if (copies(layer, expert) == 1) {
            throw new IllegalStateException("cannot evict the last copy of expert " + expert + " in MoE layer "
                    + layer + " (die " + die + ")");
        }
        bits[index] &= ~mask;
        if (homeDie[slot] == die) {
            int[] rest = holders(layer, expert);
            homeDie[slot] = rest[0];
        }
        return true;
    }

    /**
     * What changed in one MoE layer from {@code before} to this table, as placement commands:
     * per expert, copies gained and copies lost pair up as MIGRATEs, the rest are REPLICATEs or
     * EVICTs, so {@code moves} is the fewest commands that make the change; every gained copy reads
     * the expert's weights once over the mesh ({@code addedCopies}). Net of anything undone between.
     */
    public LayerChange changeFrom(ExpertDistributionTable before, int layer) {
        if (before.numMoeLayers != numMoeLayers || before.numExperts != numExperts || before.dies != dies) {
            throw new IllegalArgumentException("tables of different shapes");
        }
        int moves = 0;
        int added = 0;
        for (int expert = 0; expert < numExperts; expert++) {
            int base = slot(layer, expert) * words;
            int gained = 0;
            int lost = 0;
            for (int w = 0; w < words; w++) {
                gained += Long.bitCount(bits[base + w] & ~before.bits[base + w]);
                lost += Long.bitCount(before.bits[base + w] & ~bits[base + w]);
            }
            moves += Math.max(gained, lost);
            added += gained;
        }
        return new LayerChange(moves, added);
    }

    /** Placement commands (REPLICATE / MIGRATE / EVICT) between two tables in one layer, and the copies they add. */
    public record LayerChange(int moves, int addedCopies) {
    }

    private int slot(int layer, int expert) {
        if (layer < 0 || layer >= numMoeLayers) {
            throw new IllegalArgumentException("MoE layer " + layer + " out of range 0.." + (numMoeLayers - 1));
        }
        if (expert < 0 || expert >= numExperts) {
            throw new IllegalArgumentException("expert " + expert + " out of range 0.." + (numExperts - 1));
        }
        return layer * numExperts + expert;
    }

    private void checkDie(int die) {
        if (die < 0 || die >= dies) {
            throw new IllegalArgumentException("die " + die + " out of range 0.." + (dies - 1));
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ExpertDistributionTable t && t.numMoeLayers == numMoeLayers
                && t.numExperts == numExperts && t.dies == dies && Arrays.equals(t.bits, bits)
                && Arrays.equals(t.homeDie, homeDie);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(bits) + Arrays.hashCode(homeDie);
    }
}
