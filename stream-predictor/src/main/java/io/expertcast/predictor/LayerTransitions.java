package io.expertcast.predictor;

import io.expertcast.core.predict.TransitionHeatmap;

/**
 * The two global transition heatmaps of one (model, MoE layer) as the aggregator counts them (Insight 2):
 * token->token (a request's token t at this layer -> its token t+1) and layer->layer (a token at this
 * layer -> the same token at the next MoE layer), both decaying with a half-life counted in tokens.
 * Public for the aggregator's benchmark ({@code bench aggregator}).
 */
public final class LayerTransitions {
    private final TransitionHeatmap token;
    private final TransitionHeatmap nextLayer;

    /** Empty tables of {@code experts} x {@code experts}; {@code halfLifeTokens} 0 for no decay. */
    public LayerTransitions(int experts, double halfLifeTokens) {
        this.token = new TransitionHeatmap(1, experts, halfLifeTokens);
        this.nextLayer = new TransitionHeatmap(1, experts, halfLifeTokens);
    }

    public TransitionHeatmap token() {
        return token;
    }

    public TransitionHeatmap nextLayer() {
        return nextLayer;
    }

    /**
     * One {@link PackedLayerTokens} entry of this layer: each token ticks both heatmaps once (the half-life
     * is in tokens), then counts its k x k pairs with the request's token before it ({@code previous}, null
     * at a request's first token) and with its own next MoE layer ({@code next}, empty at the last layer).
     */
    public void observe(int k, int[] previous, int[] tokens, int[] next) {
        int previousAt = 0;
        for (int t = 0; t < tokens.length / k; t++) {
            token.tick();
            nextLayer.tick();
            if (previous != null) {
                token.observeToken(previous, previousAt, tokens, t * k, k);
            }
            if (next.length > 0) {
                nextLayer.observeToken(tokens, t * k, next, t * k, k);
            }
            previous = tokens;
            previousAt = t * k;
        }
    }

    /**
     * All of a batch's entries of this layer: the same counts as {@link #observe(int, int[], int[], int[])}
     * entry after entry (each table ticks once per token and takes its pairs in the same order; neither reads
     * the other), but one table at a time, so its 512 KB (DeepSeek-V3) stay in the L2 cache while the
     * batch's updates land in it. Returns how many tokens it observed.
     */
    public int observe(int k, PackedLayerTokens.LayerEntries entries) {
        int[] observed = {0};
        entries.forEach((layer, previous, tokens, next) -> {
            observed[0] += tokens.length / k;
            for (int t = 0, previousAt = 0; t < tokens.length / k; t++) {
                token.tick();
                if (previous != null) {
                    token.observeToken(previous, previousAt, tokens, t * k, k);
                }
                previous = tokens;
                previousAt = t * k;
            }
        });
        entries.forEach((layer, previous, tokens, next) -> {
            for (int t = 0; t < tokens.length / k; t++) {
                nextLayer.tick();
                if (next.length > 0) {
                    nextLayer.observeToken(tokens, t * k, next, t * k, k);
                }
            }
        });
        return observed[0];
    }
}
