package io.expertcast.predictor;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.RequestHistory;
import io.expertcast.schemas.LayerSelections;
import io.expertcast.schemas.LayerTokens;
import java.nio.ByteBuffer;
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
 *
 * <p>A record holds at most {@link #recordTokens} tokens (a longer event is cut into slices, the slice
 * after a cut taking the token before it as its previous one), so a burst of prefill tokens becomes several
 * records of the same key, in order. The aggregator counts them exactly as one (each table ticks and counts
 * token after token either way), but no single record holds its stream thread for long (a record costs
 * tokens x the shard's layers x 2k^2 cell adds: a 100 ms batch of a prefill burst, 4,000 tokens, would be
 * ~60 ms) or nears the 1 MB a Kafka record may have.
 */
final class SelectionBatches {
    /** Tokens per record at most: ~3 ms of counting for a DeepSeek-V3 shard (15 layers). */
    static final int MAX_RECORD_TOKENS = 512;
    /** Bytes of packed ids per record at most (models with many layers per shard or over 256 experts). */
    static final int MAX_RECORD_BYTES = 256 * 1024;

    private record Sealed(ByteBuffer packed, long eventTimeMs) {
    }

    private static final class Batch {
        final String model;
        final int numExperts;
        final int topK;
        final int maxTokens;
        final List<Sealed> sealed = new ArrayList<>();
        final PackedLayerTokens.Writer tokens;
        int writerTokens;
        long eventTimeMs = Long.MIN_VALUE;

        Batch(String model, int numExperts, int topK, int layersInShard) {
            this.model = model;
            this.numExperts = numExperts;
            this.topK = topK;
            this.maxTokens = recordTokens(numExperts, topK, layersInShard);
            this.tokens = new PackedLayerTokens.Writer(numExperts);
        }

        void seal() {
            sealed.add(new Sealed(tokens.drain(), eventTimeMs));
            writerTokens = 0;
            eventTimeMs = Long.MIN_VALUE;
        }
    }

    private final Map<String, Batch[]> byModel = new LinkedHashMap<>();

    /**
     * Tokens per record for a shard of {@code layersInShard} layers: {@link #MAX_RECORD_TOKENS}, fewer where
     * they could pass {@link #MAX_RECORD_BYTES}: per token and layer at most an entry of its own (6 bytes of
     * header and the previous token's ids, when every event is one token), its ids and the next layer's.
     */
    static int recordTokens(int numExperts, int k, int layersInShard) {
        int bytesPerToken = layersInShard * (6 + 3 * k * (PackedLayerTokens.wideIds(numExperts) ? 2 : 1));
        return Math.max(1, Math.min(MAX_RECORD_TOKENS, MAX_RECORD_BYTES / Math.max(1, bytesPerToken)));
    }

    /**
     * One event's tokens (ids [token][moe layer][k]) and the request's previous token ([moe layer][k],
     * null at its first), each MoE layer to its shard's batch.
     */
    void add(String model, int layers, int numExperts, int k, int shards, int[] previous, int[] ids,
             long eventTimeMs) {
        Batch[] batches = byModel.computeIfAbsent(model, m -> new Batch[shards]);
        int stride = layers * k;
        int tokens = ids.length / stride;
        for (int g = 0; g < shards; g++) {
            Batch b = batches[g];
            if (b == null) {
                b = new Batch(model, numExperts, k, (layers - g + shards - 1) / shards);
                batches[g] = b;
            }
            for (int from = 0; from < tokens; ) {
                if (b.writerTokens == b.maxTokens) {
                    b.seal();
                }
                int slice = Math.min(tokens - from, b.maxTokens - b.writerTokens);
                int[] before = from == 0 ? previous : ids;
                int beforeAt = from == 0 ? 0 : (from - 1) * stride;
                for (int l = g; l < layers; l += shards) {
                    b.tokens.add(l, k, before, beforeAt, ids, from * stride, slice, stride, l + 1 < layers);
                }
                b.writerTokens += slice;
                b.eventTimeMs = Math.max(b.eventTimeMs, eventTimeMs);
                from += slice;
            }
        }
    }

    /** Every non-empty batch as records (key model/shard; a shard's in order), and the batches empty again. */
    List<KeyValue<String, LayerSelections>> drain() {
        List<KeyValue<String, LayerSelections>> out = new ArrayList<>();
        for (Batch[] batches : byModel.values()) {
            for (int g = 0; g < batches.length; g++) {
                Batch b = batches[g];
                if (b == null) {
                    continue;
                }
                if (!b.tokens.isEmpty()) {
                    b.seal();
                }
                for (Sealed s : b.sealed) {
                    out.add(KeyValue.pair(b.model + "/" + g, LayerSelections.newBuilder()
                            .setModel(b.model)
                            .setNumExperts(b.numExperts)
                            .setTopK(b.topK)
                            .setLayers(List.of())
                            .setTags(List.of())
                            .setPacked(s.packed())
                            .setEventTimeMs(s.eventTimeMs())
                            .build()));
                }
                b.sealed.clear();
            }
        }
        return out;
    }

    /**
     * A finished request's lesson for popularity (learned from finished requests only), sent at once rather than
     * batched: per shard one record (key model/shard, as {@link #drain}) of its counts at each of the shard's
     * MoE layers, with the request's tag keys.
     */
    static List<KeyValue<String, LayerSelections>> finishedCounts(String model, ModelShape shape, int shards,
                                                                 RequestHistory finished, List<String> tags,
                                                                 long eventTimeMs) {
        int layers = shape.numMoeLayers();
        List<List<LayerTokens>> byShard = new ArrayList<>(shards);
        for (int g = 0; g < shards; g++) {
            byShard.add(new ArrayList<>());
        }
        for (int l = 0; l < layers; l++) {
            List<Integer> counts = new ArrayList<>(shape.numExperts());
            for (int e = 0; e < shape.numExperts(); e++) {
                counts.add(finished.count(l, e));
            }
            byShard.get(l % shards).add(LayerTokens.newBuilder()
                    .setLayer(l)
                    .setPrevious(List.of())
                    .setTokens(List.of())
                    .setNextLayer(List.of())
                    .setFinishedCounts(counts)
                    .build());
        }
        List<KeyValue<String, LayerSelections>> out = new ArrayList<>(shards);
        for (int g = 0; g < shards; g++) {
            out.add(KeyValue.pair(model + "/" + g, LayerSelections.newBuilder()
                    .setModel(model)
                    .setNumExperts(shape.numExperts())
                    .setTopK(shape.topK())
                    .setLayers(byShard.get(g))
                    .setTags(tags)
                    .setEventTimeMs(eventTimeMs)
                    .build()));
        }
        return out;
    }
}
