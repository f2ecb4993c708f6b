package io.expertcast.bench;

import io.expertcast.core.model.ModelShape;
import io.expertcast.predictor.PackedLayerTokens;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Heatmap lessons as the request side packs them (SelectionBatches): one {@link PackedLayerTokens.Writer} per
 * shard, each MoE layer's tokens to shard layer mod shards, for the benchmarks that count them.
 */
final class LessonShards {
    private final int layers;
    private final int k;
    private final PackedLayerTokens.Writer[] writers;

    LessonShards(ModelShape model, int shards) {
        this.layers = model.numMoeLayers();
        this.k = model.topK();
        this.writers = new PackedLayerTokens.Writer[shards];
        for (int g = 0; g < shards; g++) {
            writers[g] = new PackedLayerTokens.Writer(model.numExperts());
        }
    }

    /** One event's {@code tokens} tokens ({@code ids}) after the request's {@code previous} token (or null). */
    void add(int[] previous, int[] ids, int tokens) {
        for (int l = 0; l < layers; l++) {
            writers[l % writers.length].add(l, k, previous, 0, ids, tokens, layers * k, l + 1 < layers);
        }
    }

    /** Each shard's packed lessons so far; the writers start empty again. */
    ByteBuffer[] drain() {
        ByteBuffer[] shards = new ByteBuffer[writers.length];
        for (int g = 0; g < writers.length; g++) {
            shards[g] = writers[g].drain();
        }
        return shards;
    }

    /** The last of an event's {@code tokens} tokens, ids [layer][k]. */
    static int[] lastToken(ModelShape model, int[] ids, int tokens) {
        int perToken = model.numMoeLayers() * model.topK();
        return Arrays.copyOfRange(ids, (tokens - 1) * perToken, tokens * perToken);
    }
}
