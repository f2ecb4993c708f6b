package io.expertcast.streams.pass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.SelectionEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class BatchSchedulerTest {
    private static final ModelShape TINY = ModelCatalog.parseShape("tiny:2:all:8:2");
    private static final ModelShape OTHER = ModelCatalog.parseShape("other:2:all:8:2");

    /** A request with {@code prefill} prefill tokens and {@code decode} decode steps; id = token index mod 8. */
    private static RequestTrace request(ModelShape shape, String id, int prefill, int decode) {
        List<int[]> steps = new ArrayList<>();
        int perToken = shape.numMoeLayers() * shape.topK();
        steps.add(IntStream.range(0, prefill * perToken).map(i -> (i / perToken) % 8).toArray());
        for (int d = 0; d < decode; d++) {
            int v = (d + 3) % 8;
            steps.add(IntStream.range(0, perToken).map(i -> v).toArray());
        }
        return new RequestTrace(shape, id, "b", "s", "en", steps);
    }

    private static List<ScheduledPass> run(List<RequestTrace> requests, int batch, int chunk) {
        List<ScheduledPass> out = new ArrayList<>();
        new BatchScheduler(requests.iterator(), batch, chunk, () -> 42L).forEachRemaining(out::add);
        return out;
    }

    @Test
    void stepsRequestsInLockstepAndRefillsAFreedSlot() {
        // a: prefill 3, 2 decode steps; b: prefill 1, 0 decode; c: prefill 2, 1 decode. Batch of 2.
        List<ScheduledPass> passes = run(List.of(request(TINY, "a", 3, 2), request(TINY, "b", 1, 0),
                request(TINY, "c", 2, 1)), 2, 256);
        List<List<String>> entries = passes.stream().map(p -> p.pass().getEntries().stream()
                .map(e -> e.getRequestId() + ":" + e.getStep()).toList()).toList();
        assertEquals(List.of(
                List.of("a:0", "b:0"),      // both prefill; b ends here, its slot frees
                List.of("a:1", "c:0"),      // c admitted into b's slot
                List.of("a:2", "c:1")), entries);
        assertEquals(List.of(0L, 1L, 2L), passes.stream().map(p -> p.pass().getPassId()).toList());
        assertEquals(4, passes.get(0).pass().getTotalTokens());
        assertEquals(0, passes.get(0).pass().getDecodeTokens());
        assertEquals(3, passes.get(1).pass().getTotalTokens());
        assertEquals(1, passes.get(1).pass().getDecodeTokens());
    }

    @Test
    void chunksPrefillAndLaysOutBatchOffsetsAndIds() {
        List<ScheduledPass> passes = run(List.of(request(TINY, "a", 5, 1), request(TINY, "b", 1, 1)), 4, 2);
        List<SelectionEvent> first = passes.get(0).selections();
        assertEquals(List.of(0, 2, 4, 0), first.stream().map(SelectionEvent::getTokenOffset).toList());
        assertEquals(List.of(2, 2, 1, 1), first.stream().map(SelectionEvent::getTokenCount).toList());
        assertEquals(List.of(0, 2, 4, 5), first.stream().map(SelectionEvent::getBatchTokenOffset).toList());
        // Token 2 of a's prefill picked expert 2 at both layers and slots.
        byte[] chunk = new byte[first.get(1).getExpertIds().remaining()];
        first.get(1).getExpertIds().duplicate().get(chunk);
        int[] ids = ExpertIds.unpack(chunk);
        assertEquals(2 * 2 * 2, ids.length);
        assertEquals(2, ids[0]);
        assertEquals(3, ids[ids.length - 1]);
        assertTrue(first.stream().noneMatch(SelectionEvent::getLastStep));
        List<SelectionEvent> second = passes.get(1).selections();
        assertTrue(second.stream().allMatch(SelectionEvent::getLastStep));
        assertEquals(List.of(0, 1), second.stream().map(SelectionEvent::getBatchTokenOffset).toList());
        int sum = passes.get(0).pass().getEntries().stream().mapToInt(PassEntry::getTokenCount).sum();
        assertEquals(sum, first.stream().mapToInt(SelectionEvent::getTokenCount).sum());
    }

    @Test
    void aBatchHoldsOneModel() {
        List<ScheduledPass> passes = run(List.of(request(TINY, "a", 1, 1), request(OTHER, "x", 1, 0),
                request(OTHER, "y", 1, 0)), 4, 256);
        assertEquals(List.of("tiny", "tiny", "other"), passes.stream().map(p -> p.pass().getModel()).toList());
        assertEquals(2, passes.get(2).pass().getEntries().size());
        assertFalse(passes.stream().anyMatch(p -> p.pass().getEntries().isEmpty()));
    }
}
