package io.expertcast.emulator.prefetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.LayerPrediction;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.streams.StreamsTestData;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import io.expertcast.core.wafer.PrefetchCounts;

/** Commands meet their pass by exact (request, step), whatever order the passes arrive in. */
class PrefetchBookTest {
    private static PrefetchCommand nextToken(String request, int step, int layer, int expert) {
        return new PrefetchCommand(StreamsTestData.MODEL, request, PrefetchScope.NEXT_TOKEN, step, MemoryTier.HBM,
                List.of(new LayerPrediction(layer, List.of(expert), List.of(1.0))), 0L, 0L, 0, java.nio.ByteBuffer.allocate(0), java.nio.ByteBuffer.allocate(0));
    }

    private static PrefetchCommand decodePhase(String request, int step, int layer, int expert) {
        return new PrefetchCommand(StreamsTestData.MODEL, request, PrefetchScope.DECODE_PHASE, step, MemoryTier.HBM,
                List.of(new LayerPrediction(layer, List.of(expert), List.of(1.0))), 0L, 0L, 0, java.nio.ByteBuffer.allocate(0), java.nio.ByteBuffer.allocate(0));
    }

    private static PrefetchBook.PassForecast take(PrefetchBook book, long pass, String request, int step, boolean last) {
        return take(book, pass, 0L, request, step, last);
    }

    private static PrefetchBook.PassForecast take(PrefetchBook book, long pass, long eventTimeMs, String request,
                                                  int step, boolean last) {
        SelectionEvent e = StreamsTestData.selection(request, step, 0, 1, pass, 0, 7);
        e.setLastStep(last);
        ForwardPass p = StreamsTestData.pass(pass, List.of(new PassEntry(request, step, 1)));
        p.setEventTimeMs(eventTimeMs);
        return book.take(p, List.of(e));
    }

    /**
     * Timeout 60 s, so the book looks for idle requests every 15 s of pass time. Requests b and c run
     * a step at t = 0 s and go silent; request "gone" never has a pass; request a keeps running.
     */
    @Test
    void aRequestWithNoPassAndNoCommandForTheIdleTimeoutIsFinishedAndItsCommandsExpire() {
        PrefetchBook book = new PrefetchBook(ModelCatalog.LLAMA4_MAVERICK, Duration.ofSeconds(60));
        PrefetchCounts counts = PrefetchCounts.NONE;
        int sent = 0;
        counts = counts.plus(book.offer(decodePhase("c", 1, 0, 3)));            // used at c's step 1
        counts = counts.plus(book.offer(nextToken("gone", 2, 0, 1)));           // filed before any pass
        sent += 2;
        counts = counts.plus(take(book, 1, 0, "a", 1, false).counts());
        counts = counts.plus(take(book, 2, 0, "b", 1, false).counts());
        counts = counts.plus(take(book, 3, 0, "c", 1, false).counts());
        counts = counts.plus(book.offer(nextToken("b", 2, 0, 9)));              // b's step 2 never comes
        counts = counts.plus(book.offer(decodePhase("gone", 1, 1, 2)));         // nor does any step of gone
        counts = counts.plus(book.offer(nextToken("a", 5, 0, 4)));              // a's step 5 comes at 80 s
        sent += 3;
        assertEquals(new PrefetchCounts(1, 0, 0, 0), counts, "c's plan served its step 1");
        assertEquals(4, book.openRequests());
        // Checks at 20, 40 and 60 s find nobody idle for more than 60 s (stamps 0, cutoff -40, -20, 0).
        for (int step = 2; step <= 4; step++) {
            counts = counts.plus(take(book, 2 + step, (step - 1) * 20_000L, "a", step, false).counts());
        }
        assertEquals(new PrefetchCounts(1, 0, 0, 0), counts);
        assertEquals(5, book.pendingCommands(), "c's plan, gone's two commands, b's and a's step commands");
        // An old pass arriving late does not turn the clock back, nor count as a check.
        counts = counts.plus(take(book, 0, 5_000L, "a", 0, false).counts());
        // At 80 s (cutoff 20 s) b, c and gone have been idle since 0 s: b's and gone's commands expire,
        // c's plan leaves as used (it was counted when it served). a is active and keeps its command.
        PrefetchBook.PassForecast at80 = take(book, 7, 80_000L, "a", 5, false);
        assertTrue(at80.copy().toHbm(0, 4), "a's command applies to its step 5");
        counts = counts.plus(at80.counts());
        assertEquals(new PrefetchCounts(2, 0, 0, 3), counts);
        assertEquals(0, book.pendingCommands());
        assertEquals(1, book.openRequests(), "only a is still open");
        assertEquals(sent, counts.used() + counts.late() + counts.unknown() + counts.expired(),
                "every command in exactly one bucket");
        // A command for a request given up counts as late, as for a request that ended.
        assertEquals(new PrefetchCounts(0, 1, 0, 0), book.offer(nextToken("b", 3, 0, 9)));
        assertEquals(0, book.pendingCommands());
    }

    @Test
    void aCommandKeepsItsRequestActive() {
        PrefetchBook book = new PrefetchBook(ModelCatalog.LLAMA4_MAVERICK, Duration.ofSeconds(60));
        take(book, 1, 0, "a", 1, false);
        take(book, 2, 0, "b", 1, false);
        take(book, 3, 50_000L, "a", 2, false);
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("b", 9, 0, 1)), "b is active again at 50 s");
        assertEquals(PrefetchCounts.NONE, take(book, 4, 100_000L, "a", 3, false).counts(),
                "at 100 s b was last active at 50 s, within 60 s");
        assertEquals(new PrefetchCounts(0, 0, 0, 1), take(book, 5, 120_000L, "a", 4, false).counts(),
                "at 120 s (check due since 115 s) b has been idle for 70 s");
    }

    @Test
    void aCommandEnablesItsExpertsInItsOwnTier() {
        PrefetchBook book = new PrefetchBook(ModelCatalog.LLAMA4_MAVERICK, Duration.ofMinutes(10));
        book.offer(nextToken("a", 2, 4, 9));
        PrefetchCommand llc = nextToken("a", 2, 6, 9);
        llc.setTier(MemoryTier.LLC);
        book.offer(llc);
        book.offer(nextToken("a", 2, 6, 9)); // the same expert in both tiers: both copies
        llc = nextToken("a", 2, 8, 1);
        llc.setTier(MemoryTier.LLC);
        book.offer(llc);
        var copy = take(book, 1, "a", 2, false).copy();
        assertTrue(copy.toHbm(4, 9) && !copy.toLlc(4, 9));
        assertTrue(copy.toHbm(6, 9) && copy.toLlc(6, 9));
        assertTrue(copy.toLlc(8, 1) && !copy.toHbm(8, 1));
        assertTrue(!copy.any(8, 9));
    }

    @Test
    void theIdleTimeoutMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> new PrefetchBook(ModelCatalog.LLAMA4_MAVERICK, Duration.ZERO));
    }

    @Test
    void aPassArrivingBeforeAnEarlierOneDoesNotExpireTheEarliersCommand() {
        PrefetchBook book = new PrefetchBook(ModelCatalog.LLAMA4_MAVERICK, Duration.ofMinutes(10));
        take(book, 9, "a", 1, false);
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 2, 4, 9)));
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 3, 5, 11)));
        var step3 = take(book, 11, "a", 3, false); // from another partition, ahead of pass 10
        assertTrue(step3.copy().toHbm(5, 11));
        assertTrue(!step3.copy().toHbm(4, 9), "step 2's command is not for step 3");
        assertEquals(new PrefetchCounts(1, 0, 0, 0), step3.counts());
        var step2 = take(book, 10, "a", 2, false);
        assertTrue(step2.copy().toHbm(4, 9));
        assertEquals(new PrefetchCounts(1, 0, 0, 0), step2.counts());
        assertEquals(new PrefetchCounts(0, 1, 0, 0), book.offer(nextToken("a", 1, 5, 11)), "step 1 was emulated");
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 3, 5, 11)), "step 3's command again: no count");
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 5, 5, 11)));
        assertEquals(new PrefetchCounts(0, 0, 0, 1), take(book, 12, "a", 4, true).counts(), "a ended before step 5");
        assertEquals(0, book.pendingCommands());
        assertEquals(new PrefetchCounts(0, 1, 0, 0), book.offer(nextToken("a", 5, 5, 11)), "a has ended");
    }

    @Test
    void aRequestEndsWhenEveryDecodeStepWasEmulatedNotWhenItsLastStepCameFirst() {
        PrefetchBook book = new PrefetchBook(ModelCatalog.LLAMA4_MAVERICK, Duration.ofMinutes(10));
        take(book, 1, "a", 1, false);
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 2, 4, 9)));
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 3, 5, 11)));
        // The pass of the last step completes first (another partition was faster): step 2's command waits.
        var last = take(book, 3, "a", 3, true);
        assertEquals(new PrefetchCounts(1, 0, 0, 0), last.counts(), "step 3's command used, step 2's still pending");
        assertEquals(1, book.pendingCommands());
        var step2 = take(book, 2, "a", 2, false);
        assertTrue(step2.copy().toHbm(4, 9));
        assertEquals(new PrefetchCounts(1, 0, 0, 0), step2.counts(), "used, not expired");
        assertEquals(0, book.pendingCommands());
        assertEquals(0, book.openRequests(), "every step emulated: the request ended");
        assertEquals(new PrefetchCounts(0, 1, 0, 0), book.offer(nextToken("a", 3, 5, 11)), "a has ended");
    }

    @Test
    void aCommandSentTwiceCountsOnce() {
        PrefetchBook book = new PrefetchBook(ModelCatalog.LLAMA4_MAVERICK, Duration.ofMinutes(10));
        take(book, 1, "a", 1, false);
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 2, 4, 9)));
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 2, 4, 9)), "again before its pass: filed once");
        assertEquals(1, book.pendingCommands());
        assertEquals(new PrefetchCounts(1, 0, 0, 0), take(book, 2, "a", 2, false).counts());
        assertEquals(PrefetchCounts.NONE, book.offer(nextToken("a", 2, 4, 9)), "again after it was used: not late");
    }

    @Test
    void aCommandNamingALayerOrExpertTheModelLacksHasAProblem() {
        var model = ModelCatalog.LLAMA4_MAVERICK;
        assertEquals(null, PrefetchBook.problem(model, nextToken("a", 2, 23, 127)));
        assertTrue(PrefetchBook.problem(model, nextToken("a", 2, 24, 1)).contains("names MoE layer 24"));
        assertTrue(PrefetchBook.problem(model, nextToken("a", 2, 0, -1)).contains("names expert -1"));
        assertTrue(PrefetchBook.problem(model, nextToken("a", 0, 0, 1)).contains("not a decode step"));
    }

    @Test
    void aPackedCommandIsReadAsItsLayersAndABadPackingHasAProblem() {
        var model = ModelCatalog.LLAMA4_MAVERICK; // 24 MoE layers, 128 experts
        int layers = model.numMoeLayers();
        int[][] experts = new int[layers][2];
        double[][] scores = new double[layers][2];
        for (int l = 0; l < layers; l++) {
            experts[l] = new int[] {l, 100 + l % 20};
            scores[l] = new double[] {0.5, 0.25};
        }
        PrefetchCommand packed = packed(experts, scores);
        assertEquals(null, PrefetchBook.problem(model, packed));
        PrefetchBook book = new PrefetchBook(model, Duration.ofMinutes(10));
        take(book, 1, "a", 1, false);
        book.offer(packed);
        var copy = take(book, 2, "a", 2, false).copy();
        assertTrue(copy.toHbm(5, 5) && copy.toHbm(5, 105) && copy.toHbm(23, 103));
        assertTrue(!copy.toHbm(5, 6));

        experts[3][1] = 128; // beyond the model's experts
        assertTrue(PrefetchBook.problem(model, packed(experts, scores)).contains("names expert 128"));
        var cut = PrefetchCommand.newBuilder(packed).setPackedExperts(java.nio.ByteBuffer.wrap(new byte[5])).build();
        assertTrue(PrefetchBook.problem(model, cut).contains("not whole layers"));
        var scoresCut = PrefetchCommand.newBuilder(packed).setPackedScores(java.nio.ByteBuffer.wrap(new byte[6])).build();
        assertTrue(PrefetchBook.problem(model, scoresCut).contains("packed scores"));
        var tooMany = PrefetchCommand.newBuilder(packed).setPackedExperts(java.nio.ByteBuffer.wrap(
                new byte[(layers + 1) * 2 * 2])).setPackedScores(java.nio.ByteBuffer.allocate(0)).build();
        assertTrue(PrefetchBook.problem(model, tooMany).contains("names MoE layer 24"));
    }

    private static PrefetchCommand packed(int[][] experts, double[][] scores) {
        return io.expertcast.schemas.PrefetchPredictions.pack(PrefetchCommand.newBuilder()
                .setModel(StreamsTestData.MODEL).setRequestId("a").setScope(PrefetchScope.NEXT_TOKEN).setTargetStep(2)
                .setTier(MemoryTier.HBM).setSourcePassId(1).setEventTimeMs(0), experts, scores).build();
    }
}
