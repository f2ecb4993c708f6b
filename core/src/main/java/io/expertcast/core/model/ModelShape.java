package io.expertcast.core.model;

import java.util.Arrays;

/**
 * The routing shape of an MoE model: which transformer layers are MoE layers, how many routed
 * experts each has and how many each token picks, plus the expert FFN sizes that give its
 * weight bytes and FLOPs (one routed expert = 3 matrices of hidden x intermediate).
 */
public final class ModelShape {
    private final String id;
    private final int numLayers;
    private final int[] moeLayers;
    private final int numExperts;
    private final int topK;
    private final int hiddenSize;
    private final int expertIntermediateSize;
    private final double bytesPerParam;
    private final int[] moeIndexOfLayer;

    public ModelShape(String id, int numLayers, int[] moeLayers, int numExperts, int topK, int hiddenSize,
                      int expertIntermediateSize, double bytesPerParam) {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("model id is empty");
        }
        if (numLayers <= 0 || moeLayers.length == 0 || numExperts <= 0 || topK <= 0 || topK > numExperts) {
            throw new IllegalArgumentException("invalid shape for " + id + ": layers=" + numLayers + " moeLayers="
                    + moeLayers.length + " experts=" + numExperts + " k=" + topK);
        }
        if (numExperts > 65535) {
            throw new IllegalArgumentException("at most 65535 experts are supported (ids are packed as uint16)");
        }
        this.id = id;
        this.numLayers = numLayers;
        this.moeLayers = moeLayers.clone();
        this.numExperts = numExperts;
        this.topK = topK;
        this.hiddenSize = hiddenSize;
        this.expertIntermediateSize = expertIntermediateSize;
        this.bytesPerParam = bytesPerParam;
        this.moeIndexOfLayer = new int[numLayers];
        Arrays.fill(moeIndexOfLayer, -1);
        int previous = -1;
        for (int i = 0; i < moeLayers.length; i++) {
            int layer = moeLayers[i];
            if (layer <= previous || layer >= numLayers) {
                throw new IllegalArgumentException("MoE layers of " + id + " must be increasing and < " + numLayers);
            }
            moeIndexOfLayer[layer] = i;
            previous = layer;
        }
    }

    public String id() { return id; }
    public int numLayers() { return numLayers; }
    public int numMoeLayers() { return moeLayers.length; }
    /** Transformer layer index of the i-th MoE layer. */
    public int moeLayer(int moeIndex) { return moeLayers[moeIndex]; }
    public int[] moeLayers() { return moeLayers.clone(); }
    /** Index among the MoE layers of transformer layer {@code layer}, or -1 for a dense layer. */
    public int moeIndexOf(int layer) { return layer >= 0 && layer < numLayers ? moeIndexOfLayer[layer] : -1; }
    public int numExperts() { return numExperts; }
    public int topK() { return topK; }
    public int hiddenSize() { return hiddenSize; }
    public int expertIntermediateSize() { return expertIntermediateSize; }
    public double bytesPerParam() { return bytesPerParam; }

    /** Bytes of one routed expert's weights (gate, up and down projections). */
    public long expertBytes() {
        return (long) Math.ceil(3.0 * hiddenSize * expertIntermediateSize * bytesPerParam);
    }

    /** FLOPs one token spends in one routed expert (3 GEMMs, 2 FLOPs per multiply-add). */
    public double flopsPerToken() {
        return 2.0 * 3.0 * hiddenSize * expertIntermediateSize;
    }

    /** A copy with another weight precision (e.g. 1 for FP8, 0.5 for 4-bit). */
    public ModelShape withBytesPerParam(double bytes) {
        return new ModelShape(id, numLayers, moeLayers, numExperts, topK, hiddenSize, expertIntermediateSize, bytes);
    }

    @Override
    public String toString() {
        return id + "[layers=" + numLayers + ", moe=" + moeLayers.length + ", experts=" + numExperts + ", k=" + topK + "]";
    }
}
