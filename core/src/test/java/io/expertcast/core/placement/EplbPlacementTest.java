package io.expertcast.core.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class EplbPlacementTest {
    /** deepseek-ai/EPLB's README example: 2 layers x 12 experts, 16 replicas, 4 groups, 2 nodes, 8 GPUs. */
    static final double[][] EXAMPLE_WEIGHT = {
        {90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86},
        {20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27}};
    /** The example's published phy2log, per layer. */
    static final int[][] EXAMPLE_PHY2LOG = {
        {5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1},
        {7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1}};

    @Test
    void reproducesThePublishedExampleExactly() {
        double[][] weight = EXAMPLE_WEIGHT;
        int[][] expected = EXAMPLE_PHY2LOG;
        for (int l = 0; l < 2; l++) {
            EplbPlacement.Layer layer = EplbPlacement.rebalance(weight[l], 16, 4, 2, 8);
            assertArrayEquals(expected[l], layer.physicalToLogical(), "layer " + l);
            int replicas = 0;
            for (int c : layer.logicalCount()) {
                replicas += c;
            }
            assertEquals(16, replicas);
            int[][] log2phy = layer.logicalToPhysical(2);
            for (int e = 0; e < 12; e++) {
                for (int p : log2phy[e]) {
                    if (p >= 0) {
                        assertEquals(e, layer.physicalToLogical()[p]);
                    }
                }
            }
        }
    }

    @Test
    void withoutRedundancyEachExpertHasOneSlotAndBadShapesAreRefused() {
        double[] load = {5, 1, 1, 5};
        EplbPlacement.Layer layer = EplbPlacement.rebalance(load, 4, 1, 1, 2);
        assertArrayEquals(new int[] {1, 1, 1, 1}, layer.logicalCount());
        // heaviest first onto the lightest GPU: {0, 1} and {3, 2}
        assertArrayEquals(new int[] {0, 1, 3, 2}, layer.physicalToLogical());
        assertThrows(IllegalArgumentException.class, () -> EplbPlacement.rebalance(load, 6, 1, 1, 4));
        assertThrows(IllegalArgumentException.class, () -> EplbPlacement.rebalance(load, 2, 1, 1, 2));
    }
}
