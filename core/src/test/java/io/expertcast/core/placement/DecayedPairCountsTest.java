package io.expertcast.core.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class DecayedPairCountsTest {

    @Test
    void aTokenCountsEachUnorderedPairOfDistinctExpertsOnce() {
        CoActivation c = new CoActivation(6);
        c.addToken(new int[] {9, 4, 1, 5, 9}, 1, 3); // experts 4, 1, 5
        c.addToken(new int[] {5, 1, 1}, 0, 3);        // (5, 1) twice, slot by slot; 1 with itself is no pair
        assertEquals(3, c.distinctPairs());
        assertEquals(1, c.count(1, 4));
        assertEquals(3, c.count(5, 1));
        assertEquals(1, c.count(4, 5));
        assertEquals(0, c.count(1, 1));
        assertEquals(1 * 6 + 4, c.cell(0), "cells in the order first seen, i x experts + j with i < j");
        c.clear();
        assertEquals(0, c.distinctPairs());
        assertEquals(0, c.count(1, 5));
    }

    @Test
    void eachObservationDecaysTheLayerThenAddsThePass() {
        DecayedPairCounts d = new DecayedPairCounts(2, 4, 0.5);
        assertNull(d.matrix(1), "a layer never observed has no counts");
        int[] cells = {0 * 4 + 1, 2 * 4 + 3};
        d.observe(1, cells, new long[] {4, 2}, 2);
        d.observe(1, new int[] {1}, new long[] {3}, 1); // (0, 1) again
        assertEquals(4 * 0.5 + 3, d.count(1, 1, 0));
        assertEquals(2 * 0.5, d.count(1, 2, 3));
        assertEquals(0, d.count(0, 0, 1), "layers decay and count apart");
        double[][] m = d.matrix(1);
        assertEquals(5.0, m[0][1]);
        assertEquals(5.0, m[1][0]);
        assertEquals(0.0, m[0][0]);

        DecayedPairCounts back = new DecayedPairCounts(2, 4, 0.5);
        back.restore(1, d.pack(1), d.scale(1));
        assertEquals(0.25, d.scale(1), "the decay is lazy: two observations at 0.5");
        assertArrayEquals(d.matrix(1), back.matrix(1));
        assertEquals(6 * Float.BYTES, d.pack(1).remaining(), "the upper triangle of 4 experts, float32");
        assertThrows(IllegalArgumentException.class, () -> d.observe(0, new int[] {1 * 4 + 0}, new long[] {1}, 1),
                "a cell must be a pair i < j");
        assertThrows(IllegalArgumentException.class, () -> back.restore(0, java.nio.ByteBuffer.allocate(7), 1.0));
    }

    @Test
    void aLazyScaleBelowTheBoundIsFoldedIntoTheCountsWithoutChangingThem() {
        DecayedPairCounts lazy = new DecayedPairCounts(1, 3, 0.5);
        double expected = 0;
        for (int pass = 0; pass < 45; pass++) { // 0.5^20 < 1e-6: folded twice
            lazy.observe(0, new int[] {0 * 3 + 2}, new long[] {pass % 3}, 1);
            expected = expected * 0.5 + pass % 3;
        }
        assertEquals(expected, lazy.count(0, 0, 2), 1e-5 * expected);
        assertEquals(1 / 32.0, lazy.scale(0), 1e-12, "folded at the 20th and 40th observation, then five halvings");
        DecayedPairCounts lastOnly = new DecayedPairCounts(1, 3, 0);
        lastOnly.observe(0, new int[] {1}, new long[] {7}, 1);
        lastOnly.observe(0, new int[] {2}, new long[] {5}, 1);
        assertEquals(0, lastOnly.count(0, 0, 1), "decay 0 keeps the last pass only");
        assertEquals(5, lastOnly.count(0, 0, 2));
    }

    @Test
    void theTriangleIsRowMajor() {
        int experts = 5;
        int n = 0;
        for (int i = 0; i < experts; i++) {
            for (int j = i + 1; j < experts; j++) {
                assertEquals(n++, DecayedPairCounts.triangle(i, j, experts));
            }
        }
        assertEquals(DecayedPairCounts.cells(experts), n);
        assertEquals(32_640, DecayedPairCounts.cells(256));
    }
}
