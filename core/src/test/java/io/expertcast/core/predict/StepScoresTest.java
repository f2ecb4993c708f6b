package io.expertcast.core.predict;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Hits on bit sets equal the count of distinct selected ids found in the prediction. */
class StepScoresTest {
    @Test
    void bitSetHitsEqualTheDistinctSelectedIdsThatWerePredicted() {
        SplittableRandom random = new SplittableRandom(7);
        for (int round = 0; round < 500; round++) {
            int experts = 1 + random.nextInt(400);
            int layers = 1 + random.nextInt(5);
            int k = 1 + random.nextInt(9);
            int n = 1 + random.nextInt(12);
            int words = (experts + 63) >>> 6;
            int[] ids = new int[layers * k];
            int[][] predicted = new int[layers][n];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(experts); // repeats happen: counted once
            }
            for (int l = 0; l < layers; l++) {
                for (int j = 0; j < n; j++) {
                    predicted[l][j] = random.nextInt(experts);
                }
            }
            long[] selected = new long[layers * words + 3];
            long[] mask = new long[layers * words + 3];
            selected[selected.length - 1] = -1; // beyond the sets: left alone, never read
            StepScores.selected(ids, layers, k, words, selected);
            StepScores.bits(predicted, words, mask);
            for (int l = 0; l < layers; l++) {
                int expected = 0;
                for (int a = 0; a < k; a++) {
                    int e = ids[l * k + a];
                    boolean earlier = false;
                    for (int b = 0; b < a; b++) {
                        earlier |= ids[l * k + b] == e;
                    }
                    boolean found = false;
                    for (int p : predicted[l]) {
                        found |= p == e;
                    }
                    expected += !earlier && found ? 1 : 0;
                }
                assertEquals(expected, StepScores.hits(selected, mask, l * words, words), "round " + round);
            }
        }
    }
}
