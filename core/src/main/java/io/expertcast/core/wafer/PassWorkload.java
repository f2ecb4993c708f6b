package io.expertcast.core.wafer;

import io.expertcast.core.model.ModelShape;

/**
 * One forward pass of one model as the emulator sees it: for each token of the pass, in batch order,
 * its k experts at every MoE layer ({@code ids} laid out [token][moe layer][k]). Token i lives on
 * die (i mod dies): the placement-oblivious even split of a batch's tokens over the wafer.
 *
 * @param counts tokens routed to each expert, [moe layer][expert]: counted once here, as every policy
 *               and the planner ask for them at every layer
 */
public record PassWorkload(ModelShape model, long passId, int tokens, int[] ids, int[][] counts) {
    public PassWorkload {
        if (ids.length != tokens * model.numMoeLayers() * model.topK()) {
            throw new IllegalArgumentException("pass " + passId + ": " + ids.length + " ids for " + tokens + " tokens");
        }
    }

    public PassWorkload(ModelShape model, long passId, int tokens, int[] ids) {
        this(model, passId, tokens, ids, count(model, tokens, ids));
    }

    private static int[][] count(ModelShape model, int tokens, int[] ids) {
        int layers = model.numMoeLayers();
        int k = model.topK();
        if (ids.length != tokens * layers * k) {
            return new int[0][]; // the canonical constructor reports the mismatch
        }
        int experts = model.numExperts();
        int[][] counts = new int[layers][experts];
        for (int t = 0, i = 0; t < tokens; t++) {
            for (int l = 0; l < layers; l++) {
                int[] c = counts[l];
                for (int s = 0; s < k; s++) {
                    int e = ids[i++];
                    if (e < 0 || e >= experts) {
                        throw new IllegalArgumentException("token " + t + " selects expert " + e + " at MoE layer " + l
                                + ", " + model.id() + " has " + experts);
                    }
                    c[e]++;
                }
            }
        }
        return counts;
    }

    public int expert(int token, int moeLayer, int slot) {
        return ids[(token * model.numMoeLayers() + moeLayer) * model.topK() + slot];
    }

    /** Tokens routed to each expert at {@code moeLayer} (a token counts once per selected expert); a copy. */
    public int[] tokensPerExpert(int moeLayer) {
        return counts[moeLayer].clone();
    }
}
