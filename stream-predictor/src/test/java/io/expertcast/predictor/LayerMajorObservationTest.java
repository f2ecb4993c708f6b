package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.LayerSelections;
import io.expertcast.schemas.PredictionLevel;
import io.expertcast.schemas.Topics;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Observing a batch layer by layer counts exactly what observing it in event order counts. */
class LayerMajorObservationTest {

    private record Entry(int layer, int[] previous, int[] tokens, int[] next) {
    }

    private static List<Entry> read(ByteBuffer packed, int experts, int k, boolean byLayer) {
        List<Entry> out = new ArrayList<>();
        PackedLayerTokens.EntryVisitor v = (layer, previous, tokens, next) -> out.add(new Entry(layer,
                previous == null ? null : previous.clone(), tokens.clone(), next.clone()));
        if (byLayer) {
            PackedLayerTokens.forEachByLayer(packed, experts, k, v);
        } else {
            PackedLayerTokens.forEach(packed, experts, k, v);
        }
        return out;
    }

    /**
     * A 100 ms batch as the request side builds it: events of interleaved requests (each a prefill of a
     * few tokens, then one decode token per event), every layer to its shard's record.
     */
    private static List<ByteBuffer> batch(int layers, int experts, int k, int shards, int events, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        SelectionBatches batches = new SelectionBatches();
        int requests = 12;
        int[][] last = new int[requests][];
        for (int e = 0; e < events; e++) {
            int r = random.nextInt(requests);
            int tokens = last[r] == null ? 1 + random.nextInt(5) : 1;
            int[] ids = new int[tokens * layers * k];
            for (int i = 0; i < ids.length; i++) {
                // skewed, so that cells grow unevenly and rows have ties
                ids[i] = random.nextInt(3) == 0 ? random.nextInt(experts) : (i % k + (i / k) % 5) % experts;
            }
            batches.add("m", layers, experts, k, shards, last[r], ids, e);
            last[r] = Arrays.copyOfRange(ids, (tokens - 1) * layers * k, tokens * layers * k);
            if (random.nextInt(40) == 0) {
                last[r] = null; // a request ends, another starts in its slot
            }
        }
        return batches.drain().stream().map(kv -> kv.value.getPacked()).toList();
    }

    @Test
    void byLayerIsEventOrderSortedStablyByEachLayersFirstAppearance() {
        for (int experts : new int[] {32, 384}) {
            for (ByteBuffer packed : batch(7, experts, 3, 3, 60, experts)) {
                List<Entry> inOrder = read(packed, experts, 3, false);
                List<Integer> firstSeen = inOrder.stream().map(Entry::layer).distinct().toList();
                List<Entry> want = new ArrayList<>(inOrder);
                want.sort((a, b) -> Integer.compare(firstSeen.indexOf(a.layer()), firstSeen.indexOf(b.layer())));
                List<Entry> got = read(packed, experts, 3, true);
                assertEquals(want.size(), got.size());
                for (int i = 0; i < want.size(); i++) {
                    assertEquals(want.get(i).layer(), got.get(i).layer());
                    assertArrayEquals(want.get(i).previous(), got.get(i).previous());
                    assertArrayEquals(want.get(i).tokens(), got.get(i).tokens());
                    assertArrayEquals(want.get(i).next(), got.get(i).next());
                }
                assertEquals(0, packed.position(), "the record's buffer is left as it was");
            }
        }
    }

    @Test
    void tablesAndPublishedBytesAreBitForBitThoseOfEventOrder() {
        int layers = 9;
        int experts = 64;
        int k = 4;
        for (double halfLife : new double[] {0, 37.5}) {
            LayerTransitions[] inOrder = new LayerTransitions[layers];
            LayerTransitions[] byLayer = new LayerTransitions[layers];
            LayerTransitions[] byTable = new LayerTransitions[layers];
            for (int l = 0; l < layers; l++) {
                inOrder[l] = new LayerTransitions(experts, halfLife);
                byLayer[l] = new LayerTransitions(experts, halfLife);
                byTable[l] = new LayerTransitions(experts, halfLife);
            }
            for (int round = 0; round < 3; round++) {
                for (ByteBuffer packed : batch(layers, experts, k, 2, 400, round)) {
                    PackedLayerTokens.forEach(packed, experts, k, (l, p, t, n) -> inOrder[l].observe(k, p, t, n));
                    PackedLayerTokens.forEachByLayer(packed, experts, k, (l, p, t, n) -> byLayer[l].observe(k, p, t, n));
                    PackedLayerTokens.forEachLayer(packed, experts, k, (l, entries) -> byTable[l].observe(k, entries));
                }
            }
            for (int l = 0; l < layers; l++) {
                assertBitForBit(inOrder[l].token(), byLayer[l].token(), l);
                assertBitForBit(inOrder[l].nextLayer(), byLayer[l].nextLayer(), l);
                assertBitForBit(inOrder[l].token(), byTable[l].token(), l);
                assertBitForBit(inOrder[l].nextLayer(), byTable[l].nextLayer(), l);
            }
        }
    }

    private static void assertBitForBit(TransitionHeatmap want, TransitionHeatmap got, int layer) {
        double[] a = want.counts(0);
        double[] b = got.counts(0);
        for (int i = 0; i < a.length; i++) {
            assertEquals(Double.doubleToRawLongBits(a[i]), Double.doubleToRawLongBits(b[i]), "layer " + layer + " cell " + i);
        }
        for (int e = 0; e < want.experts(); e++) {
            assertEquals(Double.doubleToRawLongBits(want.rowTotal(0, e)), Double.doubleToRawLongBits(got.rowTotal(0, e)));
        }
        var snapshots = Topics.HEATMAPS.valueSerde().serializer();
        assertArrayEquals(
                snapshots.serialize("t", HeatmapRecords.ofTransitions("m", layer, HeatmapKind.TOKEN_TO_TOKEN, want, 5)),
                snapshots.serialize("t", HeatmapRecords.ofTransitions("m", layer, HeatmapKind.TOKEN_TO_TOKEN, got, 5)));
        var tables = Topics.PREDICTION_TABLES.valueSerde().serializer();
        assertArrayEquals(
                tables.serialize("t", HeatmapRecords.table("m", layer, PredictionLevel.TOKEN, want, 8, 5)),
                tables.serialize("t", HeatmapRecords.table("m", layer, PredictionLevel.TOKEN, got, 8, 5)));
    }

    @Test
    void aTruncatedBatchCountsNothingAndSaysSo() {
        ByteBuffer packed = batch(5, 16, 2, 1, 10, 3).get(0);
        ByteBuffer cut = ByteBuffer.wrap(Arrays.copyOf(packed.array(), packed.remaining() - 3));
        int[] seen = {0};
        assertThrows(IllegalArgumentException.class,
                () -> PackedLayerTokens.forEachByLayer(cut, 16, 2, (l, p, t, n) -> seen[0]++));
        assertEquals(0, seen[0]);
    }
}
