package io.expertcast.core.placement;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Insight 5 live: one model's co-activation counts ({@link CoActivation}) per MoE layer with the
 * exponential decay of {@link WorkloadProfiles}: at each observation of a layer (one forward pass)
 * the old counts keep the weight {@code decay}, then the pass's counts are added, so the counts
 * follow drift. Kept as float32 upper triangles (i &lt; j, row-major): 4 x E(E-1)/2 bytes per layer,
 * 130 KB for 256 experts, 7.6 MB for DeepSeek-V3's 58 MoE layers. float32 because the decayed
 * counts are bounded by a pass's pairs / (1 - decay) and only their ranking matters to a placement;
 * float64 would double memory and every stored snapshot for digits no policy reads.
 */
public final class DecayedPairCounts {
    private final int layers;
    private final int experts;
    private final double decay;
    /** [MoE layer] upper triangle, null until the layer is first observed. */
    private final float[][] counts;

    public DecayedPairCounts(int layers, int experts, double decay) {
        if (layers <= 0 || experts < 2 || !(decay >= 0 && decay <= 1)) {
            throw new IllegalArgumentException("pair counts need positive layers, >= 2 experts and decay in [0, 1]");
        }
        this.layers = layers;
        this.experts = experts;
        this.decay = decay;
        this.counts = new float[layers][];
    }

    public int layers() { return layers; }
    public int experts() { return experts; }

    /** Cells of one layer's upper triangle. */
    public static int cells(int experts) {
        return experts * (experts - 1) / 2;
    }

    /** Position of pair (i, j), i &lt; j, in the row-major upper triangle. */
    public static int triangle(int i, int j, int experts) {
        return i * experts - i * (i + 1) / 2 + (j - i - 1);
    }

    /**
     * One observation of {@code layer}: decays its counts, then adds {@code n} pairs given as cells
     * (i x experts + j, i &lt; j, as {@link CoActivation#cell}) and their counts.
     */
    public void observe(int layer, int[] cells, long[] pairCounts, int n) {
        if (layer < 0 || layer >= layers) {
            throw new IllegalArgumentException("MoE layer " + layer + " of " + layers);
        }
        float[] row = layerOf(layer);
        if (decay != 1) {
            float d = (float) decay;
            for (int c = 0; c < row.length; c++) {
                row[c] *= d;
            }
        }
        for (int p = 0; p < n; p++) {
            int i = cells[p] / experts;
            int j = cells[p] % experts;
            if (i >= j || j >= experts) {
                throw new IllegalArgumentException("cell " + cells[p] + " is not a pair i < j of " + experts + " experts");
            }
            row[triangle(i, j, experts)] += pairCounts[p];
        }
    }

    /** The decayed count of pair (i, j) at {@code layer}. */
    public double count(int layer, int i, int j) {
        float[] row = counts[layer];
        return row == null || i == j ? 0 : row[triangle(Math.min(i, j), Math.max(i, j), experts)];
    }

    /** Whether {@code layer} has been observed. */
    public boolean observed(int layer) {
        return counts[layer] != null;
    }

    /** The symmetric [expert][expert] counts of one layer for {@link PlacementRequest#pairCounts}; null if never observed. */
    public double[][] matrix(int layer) {
        float[] row = counts[layer];
        if (row == null) {
            return null;
        }
        double[][] m = new double[experts][experts];
        int c = 0;
        for (int i = 0; i < experts; i++) {
            for (int j = i + 1; j < experts; j++, c++) {
                m[i][j] = row[c];
                m[j][i] = row[c];
            }
        }
        return m;
    }

    /** One layer's counts as little-endian float32, the upper triangle row-major; null if never observed. */
    public ByteBuffer pack(int layer) {
        float[] row = counts[layer];
        if (row == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(row.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(row);
        return b;
    }

    /** Puts back one layer as {@link #pack} wrote it (a restarted task continues from its store). */
    public void restore(int layer, ByteBuffer packed) {
        ByteBuffer b = packed.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (layer < 0 || layer >= layers || b.remaining() != cells(experts) * Float.BYTES) {
            throw new IllegalArgumentException("layer " + layer + " of " + b.remaining() + " bytes; expected one of "
                    + layers + " layers of " + cells(experts) * Float.BYTES + " bytes");
        }
        b.asFloatBuffer().get(layerOf(layer));
    }

    private float[] layerOf(int layer) {
        float[] row = counts[layer];
        if (row == null) {
            row = new float[cells(experts)];
            counts[layer] = row;
        }
        return row;
    }
}
