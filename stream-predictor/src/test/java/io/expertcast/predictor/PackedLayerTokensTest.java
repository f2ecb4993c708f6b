package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PackedLayerTokensTest {

    private record Entry(int layer, int[] previous, int[] tokens, int[] next) {
    }

    private static List<Entry> read(ByteBuffer packed, int experts, int k) {
        List<Entry> out = new ArrayList<>();
        PackedLayerTokens.forEach(packed, experts, k, (layer, previous, tokens, next) -> out.add(new Entry(layer,
                previous == null ? null : previous.clone(), tokens.clone(), next.clone())));
        return out;
    }

    @Test
    void entriesComeBackInOrderWithOneByteAndTwoByteIds() {
        for (int experts : new int[] {256, 384}) {
            int layers = 3;
            int k = 2;
            SplittableRandom random = new SplittableRandom(experts);
            int[] previous = random.ints(layers * k, 0, experts).toArray();
            int[] ids = random.ints(4 * layers * k, 0, experts).toArray(); // 4 tokens [token][layer][k]
            PackedLayerTokens.Writer writer = new PackedLayerTokens.Writer(experts);
            for (int l = 0; l < layers; l++) {
                writer.add(l, k, l == 1 ? null : previous, 0, ids, 4, layers * k, l + 1 < layers);
            }
            List<Entry> back = read(writer.drain(), experts, k);
            assertEquals(layers, back.size());
            for (int l = 0; l < layers; l++) {
                Entry e = back.get(l);
                assertEquals(l, e.layer());
                if (l == 1) {
                    assertNull(e.previous());
                } else {
                    assertArrayEquals(Arrays.copyOfRange(previous, l * k, (l + 1) * k), e.previous());
                }
                int[] tokens = new int[4 * k];
                int[] next = new int[l + 1 < layers ? 4 * k : 0];
                for (int t = 0; t < 4; t++) {
                    System.arraycopy(ids, t * layers * k + l * k, tokens, t * k, k);
                    if (next.length > 0) {
                        System.arraycopy(ids, t * layers * k + (l + 1) * k, next, t * k, k);
                    }
                }
                assertArrayEquals(tokens, e.tokens(), "experts " + experts + " layer " + l);
                assertArrayEquals(next, e.next());
            }
            assertEquals(0, writer.drain().remaining(), "a drained writer starts empty");
        }
    }

    @Test
    void aBatchOfEventsIsTheirEntriesOneAfterAnother() {
        SelectionBatches batches = new SelectionBatches();
        int layers = 4;
        int k = 2;
        int[] first = {1, 2, 3, 4, 5, 6, 7, 8};
        int[] second = {9, 10, 11, 12, 13, 14, 15, 16};
        batches.add("m", layers, 32, k, 2, null, first, 5);
        batches.add("m", layers, 32, k, 2, first, second, 9);
        var records = batches.drain();
        assertEquals(List.of("m/0", "m/1"), records.stream().map(kv -> kv.key).toList());
        List<Entry> shard1 = read(records.get(1).value.getPacked(), 32, k);
        // layers 1 and 3 of the first event, then of the second
        assertEquals(List.of(1, 3, 1, 3), shard1.stream().map(Entry::layer).toList());
        assertNull(shard1.get(0).previous());
        assertArrayEquals(new int[] {3, 4}, shard1.get(2).previous());
        assertArrayEquals(new int[] {11, 12}, shard1.get(2).tokens());
        assertArrayEquals(new int[] {13, 14}, shard1.get(2).next());
        assertArrayEquals(new int[0], shard1.get(3).next(), "no next layer after the last");
        assertEquals(9, records.get(1).value.getEventTimeMs());
        assertEquals(List.of(), batches.drain(), "drained");
    }
}
