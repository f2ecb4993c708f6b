package io.expertcast.core.predict;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TransitionHeatmapTest {

    @Test
    void countsEveryPairOfConsecutiveTokensPerLayer() {
        // 2 layers, k = 2; token a: layer 0 {0,1}, layer 1 {2,3}; token b: layer 0 {1,2}, layer 1 {3,3}
        TransitionHeatmap h = new TransitionHeatmap(2, 4);
        int[] a = {0, 1, 2, 3};
        int[] b = {1, 2, 3, 3};
        h.observeToken(a, 0, b, 0, 2);
        assertEquals(1, h.count(0, 0, 1));
        assertEquals(1, h.count(0, 0, 2));
        assertEquals(1, h.count(0, 1, 1));
        assertEquals(1, h.count(0, 1, 2));
        assertEquals(2, h.count(1, 2, 3));
        assertEquals(2, h.count(1, 3, 3));
        assertEquals(4, h.total(0));
        assertEquals(0, h.count(1, 0, 0));
    }

    @Test
    void topSuccessorsRankByCountThenLowerIdAndSkipUnseen() {
        TransitionHeatmap h = new TransitionHeatmap(1, 5);
        h.observe(0, 0, 4);
        h.observe(0, 0, 4);
        h.observe(0, 0, 3);
        h.observe(0, 0, 1);
        int[] out = new int[5];
        assertEquals(3, h.topSuccessors(0, 0, 5, out));
        assertArrayEquals(new int[] {4, 1, 3}, java.util.Arrays.copyOf(out, 3));
        assertEquals(2, h.topSuccessors(0, 0, 2, out));
        assertArrayEquals(new int[] {4, 1}, java.util.Arrays.copyOf(out, 2));
        assertEquals(0, h.topSuccessors(0, 2, 3, out));
    }

    @Test
    void thePredictionIsTheUnionOfTheSelectedExpertsTopRows() {
        TransitionHeatmap h = new TransitionHeatmap(1, 6);
        h.observe(0, 0, 1);
        h.observe(0, 0, 1);
        h.observe(0, 0, 2);
        h.observe(0, 3, 1);
        h.observe(0, 3, 5);
        h.observe(0, 3, 5);
        boolean[] selected = {true, false, false, true, false, false};
        boolean[] predicted = new boolean[6];
        assertEquals(2, h.predictInto(0, selected, 1, predicted)); // top-1 of 0 is 1, of 3 is 5
        assertArrayEquals(new boolean[] {false, true, false, false, false, true}, predicted);
        assertEquals(1, h.predictInto(0, selected, 2, predicted)); // adds 2 (row 0); row 3's second is 1, already in
        assertArrayEquals(new boolean[] {false, true, true, false, false, true}, predicted);
    }

    @Test
    void withAHalfLifeOldTransitionsFadeAndRowsStayProbabilities() {
        TransitionHeatmap h = new TransitionHeatmap(1, 3, 2); // half-life 2 ticks
        h.observe(0, 0, 1);
        h.tick();
        h.tick();
        h.observe(0, 0, 2);
        assertEquals(0.5, h.count(0, 0, 1), 1e-12);
        assertEquals(1.0, h.count(0, 0, 2), 1e-12);
        assertEquals(1.5, h.rowTotal(0, 0), 1e-12);
        double[] p = new double[3];
        h.addRowProbabilities(0, 0, p);
        assertArrayEquals(new double[] {0, 1 / 3.0, 2 / 3.0}, p, 1e-12);
        assertArrayEquals(new int[] {2, 1}, h.successors(0, 0, 5));
        // Many ticks rescale internally without changing what a read sees.
        for (int t = 0; t < 2000; t++) {
            h.tick();
        }
        h.observe(0, 0, 1);
        assertEquals(1.0, h.count(0, 0, 1), 1e-9);
        assertEquals(0.0, h.count(0, 0, 2), 1e-9);
        assertArrayEquals(new int[] {1}, h.successors(0, 0, 1));
        assertEquals(0.0, new TransitionHeatmap(1, 3, 0).halfLifeTokens()); // 0 = no decay
    }

    @Test
    void rowCountsAreThatRowOfCountsExactly() {
        for (double halfLife : new double[] {0, 7.5}) {
            TransitionHeatmap h = new TransitionHeatmap(2, 6, halfLife);
            java.util.SplittableRandom random = new java.util.SplittableRandom(3);
            for (int t = 0; t < 500; t++) {
                h.observe(1, random.nextInt(6), random.nextInt(6));
                h.tick();
            }
            double[] all = h.counts(1);
            double[] row = new double[6];
            for (int from = 0; from < 6; from++) {
                h.rowCounts(1, from, row);
                assertArrayEquals(java.util.Arrays.copyOfRange(all, from * 6, from * 6 + 6), row, 0.0);
            }
        }
    }
}
