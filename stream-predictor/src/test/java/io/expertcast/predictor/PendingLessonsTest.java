package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What an event added to the batches, through its stored bytes, adds the same again. */
class PendingLessonsTest {
    @Test
    void anEventReadBackFromItsBytesAddsExactlyWhatItAddedFirst() {
        Random random = new Random(7);
        int layers = 5;
        int k = 3;
        SelectionBatches direct = new SelectionBatches();
        ScoreSums directSums = new ScoreSums();
        SelectionBatches restored = new SelectionBatches();
        ScoreSums restoredSums = new ScoreSums();
        for (int e = 0; e < 20; e++) {
            int experts = e % 2 == 0 ? 16 : 300; // ids of one and of two bytes
            int[] previous = e % 3 == 0 ? null : ids(random, layers * k, experts);
            int[] tokens = ids(random, (1 + e % 4) * layers * k, experts);
            var selection = new PendingLessons.Selection("m" + experts, layers, experts, k, 2, previous, tokens, 1000 + e);
            var score = new PendingLessons.Score("m" + experts, "next_token", e % 2 == 0 ? "*" : "mmlu", 4, k,
                    ids(random, layers, 4), ids(random, layers, 70_000), e % 5 == 0 ? 1 : 0,
                    e % 4 == 0 ? new double[] {0.5, Double.NaN, -1, 0, 0.25} : null, 1000 + e);
            var event = new PendingLessons.Event(3, 5000 + e, selection, List.of(score));
            event.addTo(direct, directSums);
            var back = PendingLessons.decode(PendingLessons.encode(event));
            assertEquals(3, back.generation());
            assertEquals(5000 + e, back.timestamp());
            back.addTo(restored, restoredSums);
        }
        assertEquals(direct.drain().toString(), restored.drain().toString());
        assertEquals(directSums.drain().toString(), restoredSums.drain().toString());
        var empty = PendingLessons.decode(PendingLessons.encode(new PendingLessons.Event(0, 1, null, List.of())));
        assertNull(empty.selection());
        assertEquals(0, PendingLessons.generation((byte[]) null));
        assertEquals(41, PendingLessons.generation(PendingLessons.generation(41)));
    }

    @Test
    void eventsBetweenTwoCommitsAreCutIntoValuesOfBoundedSizeInOrder() {
        List<byte[]> events = List.of(new byte[100], new byte[100], new byte[50], new byte[300], new byte[1], new byte[99]);
        List<List<byte[]>> chunks = PendingLessons.chunks(events, 250);
        assertEquals(List.of(3, 1, 2), chunks.stream().map(List::size).toList()); // 250 bytes | 300 alone | 100
        assertEquals(events, chunks.stream().flatMap(List::stream).toList());
        assertEquals(List.of(), PendingLessons.chunks(List.of(), 250));
    }

    private static int[] ids(Random random, int n, int bound) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = random.nextInt(bound);
        }
        return a;
    }
}
