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
 *
 * <p>The decay is lazy: a layer keeps {@code stored} and a {@code scale} (true count = stored x
 * scale); an observation multiplies the scale by the decay and adds count / scale to the pairs it
 * has, so it costs its pairs (at most 28 per token for top-8), not the 32,640 cells a multiply of the
 * whole layer would (1.9 M multiplies per DeepSeek-V3 pass). When the scale falls below
 * {@link #RESCALE_BELOW} it is folded into the stored counts (every 13,800 passes at decay 0.999).
 * Snapshots keep stored and scale as they are, so a restored layer continues bit for bit.
 */
public final class DecayedPairCounts {
    private final int layers;
    private final int experts;
    private final double decay;
    /** Below this scale the stored counts are rescaled (1e-6: stored values stay within float range for any count). */
    public static final double RESCALE_BELOW = 1e-6;

    /** [MoE layer] upper triangle of stored counts, null until the layer is first observed. */
    private final float[][] counts;
    /** [MoE layer] true count = stored x scale. */
    private final double[] scales;

    public DecayedPairCounts(int layers, int experts, double decay) {
        if (layers <= 0 || experts < 2 || !(decay >= 0 && decay <= 1)) {
            throw new IllegalArgumentException("pair counts need positive layers, >= 2 experts and decay in [0, 1]");
        }
        this.layers = layers;
        this.experts = experts;
        this.decay = decay;
        this.counts = new float[layers][];
        this.scales = new double[layers];
        java.util.Arrays.fill(scales, 1.0);
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
        double scale = scales[layer] * decay;
        if (scale < RESCALE_BELOW) {
            for (int c = 0; c < row.length; c++) {
                row[c] = (float) (row[c] * scale);
            }
            scale = 1.0;
        }
        scales[layer] = scale;
        for (int p = 0; p < n; p++) {
            int i = cells[p] / experts;
            int j = cells[p] % experts;
            if (i >= j || j >= experts) {
                throw new IllegalArgumentException("cell " + cells[p] + " is not a pair i < j of " + experts + " experts");
            }
            int c = triangle(i, j, experts);
            row[c] = (float) (row[c] + pairCounts[p] / scale);
        }
    }

    /** The decayed count of pair (i, j) at {@code layer}. */
    public double count(int layer, int i, int j) {
        float[] row = counts[layer];
        return row == null || i == j ? 0 : row[triangle(Math.min(i, j), Math.max(i, j), experts)] * scales[layer];
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
        double scale = scales[layer];
        int c = 0;
        for (int i = 0; i < experts; i++) {
            for (int j = i + 1; j < experts; j++, c++) {
                m[i][j] = row[c] * scale;
                m[j][i] = m[i][j];
            }
        }
        return m;
    }

    /** The scale of one layer's stored counts (true count = stored x scale). */
    public double scale(int layer) {
        return scales[layer];
    }

    /** One layer's stored counts as little-endian float32, the upper triangle row-major; null if never observed. */
    public ByteBuffer pack(int layer) {
        float[] row = counts[layer];
        if (row == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(row.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(row);
        return b;
    }

    /** Puts back one layer as {@link #pack} and {@link #scale} gave it (a restarted task continues from its store). */
    public void restore(int layer, ByteBuffer packed, double scale) {
        ByteBuffer b = packed.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (layer < 0 || layer >= layers || b.remaining() != cells(experts) * Float.BYTES) {
            throw new IllegalArgumentException("layer " + layer + " of " + b.remaining() + " bytes; expected one of "
                    + layers + " layers of " + cells(experts) * Float.BYTES + " bytes");
        }
        if (!(scale > 0 && scale <= 1)) {
            throw new IllegalArgumentException("scale of layer " + layer + " is " + scale + ", expected in (0, 1]");
        }
        b.asFloatBuffer().get(layerOf(layer));
        scales[layer] = scale;
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
