package io.expertcast.predictor;

import io.expertcast.schemas.LayerSelections;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.KeyValue;

/**
 * What the request side's events teach the global heatmaps, batched per (model, layer shard) key
 * (key {@code model/shard}, MoE layer l in shard l mod shards): the tokens of every event since the last
 * hand-on, in processing order, packed ({@link PackedLayerTokens}), one {@link LayerSelections} per key
 * and batch interval instead of one per key and event.
 */
final class SelectionBatches {
    private static final class Batch {
        final String model;
        final int numExperts;
        final int topK;
        final PackedLayerTokens.Writer tokens;
        long eventTimeMs = Long.MIN_VALUE;

        Batch(String model, int numExperts, int topK) {
            this.model = model;
            this.numExperts = numExperts;
            this.topK = topK;
            this.tokens = new PackedLayerTokens.Writer(numExperts);
        }
    }

    private final Map<String, Batch[]> byModel = new LinkedHashMap<>();

    /**
     * One event's tokens (ids [token][moe layer][k]) and the request's previous token ([moe layer][k],
     * null at its first), each MoE layer to its shard's batch.
     */
    void add(String model, int layers, int numExperts, int k, int shards, int[] previous, int[] ids,
             long eventTimeMs) {
        Batch[] batches = byModel.computeIfAbsent(model, m -> new Batch[shards]);
        int tokens = ids.length / (layers * k);
        for (int l = 0; l < layers; l++) {
            int g = l % shards;
            Batch b = batches[g];
            if (b == null) {
                b = new Batch(model, numExperts, k);
                batches[g] = b;
            }
            b.tokens.add(l, k, previous, 0, ids, tokens, layers * k, l + 1 < layers);
            b.eventTimeMs = Math.max(b.eventTimeMs, eventTimeMs);
        }
    }

    /** Every non-empty batch as a record (key model/shard), and the batches empty again. */
    List<KeyValue<String, LayerSelections>> drain() {
        List<KeyValue<String, LayerSelections>> out = new ArrayList<>();
        for (Batch[] batches : byModel.values()) {
            for (int g = 0; g < batches.length; g++) {
                Batch b = batches[g];
                if (b == null || b.tokens.isEmpty()) {
                    continue;
                }
                out.add(KeyValue.pair(b.model + "/" + g, LayerSelections.newBuilder()
                        .setModel(b.model)
                        .setNumExperts(b.numExperts)
                        .setTopK(b.topK)
                        .setLayers(List.of())
                        .setTags(List.of())
                        .setPacked(b.tokens.drain())
                        .setEventTimeMs(b.eventTimeMs)
                        .build()));
                b.eventTimeMs = Long.MIN_VALUE;
            }
        }
        return out;
    }
}
