package io.expertcast.core.predict;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class DecodePlannerTest {

    @Test
    void ranksByPrefillCountAndBreaksTiesTowardsTheLowerExpertId() {
        // 1 MoE layer, 6 experts, k = 2. Counts: e4=3, e1=2, e5=2, e0=1, e2=0, e3=0.
        PrefillHeatmap heatmap = new PrefillHeatmap(1, 6, 2);
        heatmap.add(new int[] {4, 5, 4, 1, 5, 4, 1, 0});
        DecodePlan plan = new DecodePlanner(3).plan(heatmap);
        assertArrayEquals(new int[] {4, 1, 5}, plan.experts(0));
        assertArrayEquals(new int[] {3, 2, 2}, plan.scores(0));
    }

    @Test
    void aLayerWithFewerThanNSelectedExpertsPlansOnlyThose() {
        // Layer 0: experts 2 and 3 only; layer 1: expert 7 only (listed twice in one row = once).
        PrefillHeatmap heatmap = new PrefillHeatmap(2, 8, 2);
        heatmap.add(new int[] {3, 2, 7, 7});
        DecodePlan plan = new DecodePlanner(4).plan(heatmap);
        assertArrayEquals(new int[] {2, 3}, plan.experts(0));
        assertArrayEquals(new int[] {7}, plan.experts(1));
        assertArrayEquals(new int[] {1}, plan.scores(1));
    }

    @Test
    void chunkedPrefillCountsLikeOneChunk() {
        int[] all = {0, 1, 2, 3, 0, 2, 1, 3};
        PrefillHeatmap whole = new PrefillHeatmap(2, 4, 2);
        whole.add(all);
        PrefillHeatmap chunked = new PrefillHeatmap(2, 4, 2);
        chunked.add(new int[] {0, 1, 2, 3});
        chunked.add(new int[] {0, 2, 1, 3});
        assertEquals(whole, chunked);
        assertEquals(2, chunked.tokens());
        assertEquals(2, chunked.count(0, 0));
        assertEquals(whole, PrefillHeatmap.of(2, 4, 2, whole.counts(), 2));
    }

    @Test
    void rejectsBadInput() {
        PrefillHeatmap heatmap = new PrefillHeatmap(1, 4, 2);
        assertThrows(IllegalArgumentException.class, () -> heatmap.add(new int[] {0, 4}));
        assertThrows(IllegalArgumentException.class, () -> heatmap.add(new int[] {0, 1, 2}));
        assertThrows(IllegalArgumentException.class, () -> new DecodePlanner(0));
        DecodePlan plan = new DecodePlanner(2).plan(heatmap);
        assertThrows(IllegalArgumentException.class, () -> plan.hits(new int[] {0, 1, 2, 3}));
    }
}
