package io.expertcast.core.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class RankCorrelationTest {
    @Test
    void tiedValuesShareTheMeanOfTheirRanks() {
        assertArrayEquals(new double[] {2.5, 1, 2.5, 4}, RankCorrelation.averageRanks(new double[] {3, 1, 3, 7}));
    }

    @Test
    void theSortedCopyRanksExactlyAsTheIndexSortOnCountsWithManyTies() {
        Random random = new Random(7);
        double[] special = {0.0, -0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
                Double.MAX_VALUE, -Double.MAX_VALUE, Double.MIN_VALUE};
        for (int round = 0; round < 500; round++) {
            double[] v = new double[1 + random.nextInt(300)];
            for (int i = 0; i < v.length; i++) {
                v[i] = switch (round % 5) {
                    case 0 -> random.nextInt(5);                 // counts: many ties
                    case 4 -> random.nextInt(4 * v.length + 80); // counts just below and above the counted range
                    case 1 -> random.nextGaussian();             // no ties
                    case 2 -> (double) (random.nextLong() >>> 24) + (random.nextInt(50) == 0 ? 0.5 : 0); // big counts
                    default -> random.nextInt(4) == 0 ? special[random.nextInt(special.length)] : random.nextInt(3);
                };
            }
            assertArrayEquals(RankCorrelation.averageRanksByIndex(v), RankCorrelation.averageRanks(v),
                    "round " + round);
        }
    }

    @Test
    void spearmanIsOneForTheSameOrderAndNaNForAConstantVector() {
        assertEquals(1.0, RankCorrelation.spearman(new double[] {1, 5, 3}, new double[] {10, 50, 30}), 1e-12);
        assertEquals(-1.0, RankCorrelation.spearman(new double[] {1, 5, 3}, new double[] {3, 1, 2}), 1e-12);
        assertTrue(Double.isNaN(RankCorrelation.spearman(new double[] {2, 2, 2}, new double[] {1, 2, 3})));
    }
}
