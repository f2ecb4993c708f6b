package io.expertcast.core.wafer;

/**
 * The PDU's cp_en for one pass (paper case study): per (MoE layer, expert), into which memory of the
 * reading die a remote read of that expert is copied on its way back. Insight 2 splits the two tiers
 * by reuse distance:
 * <ul>
 *   <li>{@link #HBM} (token-level predictions, long reuse distance): the copy is written into the
 *       reader's HBM, in the room its home experts leave, and stays; later reads of it are local HBM
 *       reads (copy reads), which the LLC then caches like any local read. Costs an HBM-port write.</li>
 *   <li>{@link #LLC} (layer-level predictions, short reuse distance): the copy is kept in the reader's
 *       LLC, least-recently-used among its 64 MB; a later read hits it while it stays. Costs an LLC
 *       write off the critical path, no HBM port; needs an expert to fit the LLC.</li>
 * </ul>
 * Without cp_en a remote read is not kept by the reader: a die's LLC caches what it reads from its
 * own HBM (home experts and copies), as a memory-side cache does.
 */
public final class CopyEnable {
    public static final int LLC = 1;
    public static final int HBM = 2;

    private final byte[][] tiers; // [moe layer][expert]: bits LLC | HBM

    public CopyEnable(int moeLayers, int experts) {
        this.tiers = new byte[moeLayers][experts];
    }

    /** HBM copies of the marked experts: the in-process forecast from the token-level heatmap (Insight 2). */
    public static CopyEnable hbm(boolean[][] predicted) {
        CopyEnable c = new CopyEnable(predicted.length, predicted.length == 0 ? 0 : predicted[0].length);
        for (int l = 0; l < predicted.length; l++) {
            for (int e = 0; e < predicted[l].length; e++) {
                if (predicted[l][e]) {
                    c.tiers[l][e] = HBM;
                }
            }
        }
        return c;
    }

    /** Adds {@code tier} ({@link #LLC} or {@link #HBM}) for the expert at that MoE layer; tiers accumulate. */
    public void enable(int moeLayer, int expert, int tier) {
        if (tier != LLC && tier != HBM) {
            throw new IllegalArgumentException("unknown tier " + tier);
        }
        tiers[moeLayer][expert] |= (byte) tier;
    }

    public boolean toLlc(int moeLayer, int expert) {
        return (tiers[moeLayer][expert] & LLC) != 0;
    }

    public boolean toHbm(int moeLayer, int expert) {
        return (tiers[moeLayer][expert] & HBM) != 0;
    }

    /** Whether any tier is enabled for the expert at that MoE layer. */
    public boolean any(int moeLayer, int expert) {
        return tiers[moeLayer][expert] != 0;
    }

    public int moeLayers() {
        return tiers.length;
    }

    public int experts() {
        return tiers.length == 0 ? 0 : tiers[0].length;
    }
}
