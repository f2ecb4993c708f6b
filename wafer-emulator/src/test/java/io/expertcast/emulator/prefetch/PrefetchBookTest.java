package io.expertcast.emulator.prefetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.LayerPrediction;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.streams.StreamsTestData;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Commands meet their pass by exact (request, step), whatever order the passes arrive in. */
class PrefetchBookTest {
    private static PrefetchCommand nextToken(String request, int step, int layer, int expert) {
        return new PrefetchCommand(StreamsTestData.MODEL, request, PrefetchScope.NEXT_TOKEN, step, MemoryTier.HBM,
                List.of(new LayerPrediction(layer, List.of(expert), List.of(1.0))), 0L, 0L);
    }

    private static PrefetchBook.PassForecast take(PrefetchBook book, long pass, String request, int step, boolean last) {
        SelectionEvent e = StreamsTestData.selection(request, step, 0, 1, pass, 0, 7);
        e.setLastStep(last);
        return book.take(StreamsTestData.pass(pass, List.of(new PassEntry(request, step, 1))), List.of(e));
    }

    @Test
    void aPassArrivingBeforeAnEarlierOneDoesNotExpireTheEarliersCommand() {
        PrefetchBook book = new PrefetchBook(ModelCatalog.LLAMA4_MAVERICK);
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 2, 4, 9)));
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 3, 5, 11)));
        var step3 = take(book, 11, "a", 3, false); // from another partition, ahead of pass 10
        assertTrue(step3.predicted()[5][11]);
        assertTrue(!step3.predicted()[4][9], "step 2's command is not for step 3");
        assertEquals(new PrefetchCounts(1, 0, 0, 0), step3.counts());
        var step2 = take(book, 10, "a", 2, false);
        assertTrue(step2.predicted()[4][9]);
        assertEquals(new PrefetchCounts(1, 0, 0, 0), step2.counts());
        assertEquals(new PrefetchCounts(0, 1, 0, 0), book.offer(nextToken("a", 3, 5, 11)), "step 3 was emulated");
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 5, 5, 11)));
        assertEquals(new PrefetchCounts(0, 0, 0, 1), take(book, 12, "a", 4, true).counts(), "a ended before step 5");
        assertEquals(0, book.pendingCommands());
        assertEquals(new PrefetchCounts(0, 1, 0, 0), book.offer(nextToken("a", 5, 5, 11)), "a has ended");
    }

    @Test
    void aCommandNamingALayerOrExpertTheModelLacksHasAProblem() {
        var model = ModelCatalog.LLAMA4_MAVERICK;
        assertEquals(null, PrefetchBook.problem(model, nextToken("a", 2, 23, 127)));
        assertTrue(PrefetchBook.problem(model, nextToken("a", 2, 24, 1)).contains("names MoE layer 24"));
        assertTrue(PrefetchBook.problem(model, nextToken("a", 2, 0, -1)).contains("names expert -1"));
        assertTrue(PrefetchBook.problem(model, nextToken("a", 0, 0, 1)).contains("not a decode step"));
    }
}
