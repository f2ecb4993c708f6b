package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.schemas.LayerSelections;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.kafka.streams.KeyValue;
import org.junit.jupiter.api.Test;

/**
 * A batch's records are bounded (tokens and bytes), a long event is cut into slices, and the aggregator
 * counts the records of a key, one after another, exactly as the one record an unbounded batch would be.
 */
class SelectionBatchesTest {
    private static final int LAYERS = 58;
    private static final int EXPERTS = 256;
    private static final int K = 8;
    private static final int SHARDS = 4;

    @Test
    void aPrefillBurstBecomesBoundedRecordsThatCountExactlyAsOne() {
        SplittableRandom random = new SplittableRandom(5);
        SelectionBatches batches = new SelectionBatches();
        PackedLayerTokens.Writer[] unbounded = new PackedLayerTokens.Writer[SHARDS];
        for (int g = 0; g < SHARDS; g++) {
            unbounded[g] = new PackedLayerTokens.Writer(EXPERTS);
        }
        int[] last = null;
        int total = 0;
        for (int tokens : new int[] {1300, 7, 600, 1, 1}) { // a long prefill cut in three, then shorter events
            int[] ids = ids(random, tokens);
            batches.add("m", LAYERS, EXPERTS, K, SHARDS, last, ids, tokens);
            for (int l = 0; l < LAYERS; l++) { // what the batch was before records were bounded: one entry per layer
                unbounded[l % SHARDS].add(l, K, last, 0, ids, tokens, LAYERS * K, l + 1 < LAYERS);
            }
            last = Arrays.copyOfRange(ids, (tokens - 1) * LAYERS * K, tokens * LAYERS * K);
            total += tokens;
        }
        Map<String, List<ByteBuffer>> byKey = new LinkedHashMap<>();
        for (KeyValue<String, LayerSelections> kv : batches.drain()) {
            byKey.computeIfAbsent(kv.key, x -> new ArrayList<>()).add(kv.value.getPacked());
        }
        assertEquals(List.of("m/0", "m/1", "m/2", "m/3"), List.copyOf(byKey.keySet()));
        int perRecord = SelectionBatches.recordTokens(EXPERTS, K, 15);
        assertEquals(SelectionBatches.MAX_RECORD_TOKENS, perRecord);
        for (int g = 0; g < SHARDS; g++) {
            List<ByteBuffer> records = byKey.get("m/" + g);
            assertEquals((total + perRecord - 1) / perRecord, records.size(), "records of shard " + g);
            for (ByteBuffer r : records) {
                assertTrue(tokensOfLayer(r, g) <= perRecord, "tokens in a record");
                assertTrue(r.remaining() <= SelectionBatches.MAX_RECORD_BYTES, "bytes in a record");
            }
            int shard = g;
            assertEquals(total, records.stream().mapToInt(r -> tokensOfLayer(r, shard)).sum());
            // Counted in order, the records make exactly the tables the one unbounded record makes.
            LayerTransitions[] sliced = tables();
            for (ByteBuffer r : records) {
                observe(sliced, r);
            }
            LayerTransitions[] whole = tables();
            observe(whole, unbounded[g].drain());
            for (int l = g; l < LAYERS; l += SHARDS) {
                assertCellsEqual(whole[l].token(), sliced[l].token(), l);
                assertCellsEqual(whole[l].nextLayer(), sliced[l].nextLayer(), l);
            }
        }
        assertTrue(batches.drain().isEmpty(), "drained");
    }

    @Test
    void recordsStayUnderTheByteBoundForWideIdsAndOneShard() {
        int perRecord = SelectionBatches.recordTokens(512, 8, 61); // > 256 experts: two bytes an id, every layer
        assertEquals(SelectionBatches.MAX_RECORD_BYTES / (61 * (6 + 3 * 8 * 2)), perRecord);
        assertEquals(1, SelectionBatches.recordTokens(512, 64, 1000));
    }

    private static LayerTransitions[] tables() {
        LayerTransitions[] t = new LayerTransitions[LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            t[l] = new LayerTransitions(EXPERTS, PredictorSettings.DEFAULT_HEATMAP_HALF_LIFE_TOKENS);
        }
        return t;
    }

    private static void observe(LayerTransitions[] tables, ByteBuffer packed) {
        PackedLayerTokens.forEachLayer(packed, EXPERTS, K, (layer, entries) -> tables[layer].observe(K, entries));
    }

    private static void assertCellsEqual(TransitionHeatmap expected, TransitionHeatmap actual, int layer) {
        for (int from = 0; from < EXPERTS; from++) {
            assertEquals(expected.rowTotal(0, from), actual.rowTotal(0, from), "layer " + layer + " row " + from);
            for (int to = 0; to < EXPERTS; to++) {
                if (expected.count(0, from, to) != actual.count(0, from, to)) {
                    assertEquals(expected.count(0, from, to), actual.count(0, from, to),
                            "layer " + layer + " cell " + from + "->" + to);
                }
            }
        }
    }

    private static int tokensOfLayer(ByteBuffer packed, int layer) {
        int[] n = {0};
        PackedLayerTokens.forEach(packed, EXPERTS, K, (l, previous, tokens, next) -> {
            if (l == layer) {
                n[0] += tokens.length / K;
            }
        });
        return n[0];
    }

    private static int[] ids(SplittableRandom random, int tokens) {
        int[] ids = new int[tokens * LAYERS * K];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(3) == 0 ? random.nextInt(EXPERTS) : (i % K * 7 + (i / K) % 11) % EXPERTS;
        }
        return ids;
    }
}
