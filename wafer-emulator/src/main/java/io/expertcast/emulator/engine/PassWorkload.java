package io.expertcast.emulator.engine;

import io.expertcast.core.model.ModelShape;

/**
 * One forward pass of one model as the emulator sees it: for each token of the pass, in batch order,
 * its k experts at every MoE layer ({@code ids} laid out [token][moe layer][k]). Token i lives on
 * die (i mod dies): the placement-oblivious even split of a batch's tokens over the wafer.
 */
public record PassWorkload(ModelShape model, long passId, int tokens, int[] ids) {
    public PassWorkload {
        if (ids.length != tokens * model.numMoeLayers() * model.topK()) {
            throw new IllegalArgumentException("pass " + passId + ": " + ids.length + " ids for " + tokens + " tokens");
        }
    }

    public int expert(int token, int moeLayer, int slot) {
        return ids[(token * model.numMoeLayers() + moeLayer) * model.topK() + slot];
    }

    /** Tokens routed to each expert at {@code moeLayer} (a token counts once per selected expert). */
    public int[] tokensPerExpert(int moeLayer) {
        int[] counts = new int[model.numExperts()];
        int k = model.topK();
        for (int t = 0; t < tokens; t++) {
            for (int s = 0; s < k; s++) {
                counts[expert(t, moeLayer, s)]++;
            }
        }
        return counts;
    }
}
