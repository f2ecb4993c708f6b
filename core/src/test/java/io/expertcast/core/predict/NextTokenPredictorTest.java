package io.expertcast.core.predict;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The fast next-token path gives exactly the reference formulas' arrays (bit for bit) on random inputs. */
class NextTokenPredictorTest {

    /** The live predictor's per-layer computation before the fast path, from the reference formulas. */
    private static void reference(TransitionHeatmap table, double[][] globalPopularity, RequestHistory history,
                                  int[] current, int[] before, int k, int n, int[][] expertsOut,
                                  double[][] scoresOut) {
        int experts = table.experts();
        for (int l = 0; l < table.layers(); l++) {
            double[] heat = new double[experts];
            if (current != null) {
                int[] cur = Arrays.copyOfRange(current, l * k, (l + 1) * k);
                int[] prev = before == null ? new int[0] : Arrays.copyOfRange(before, l * k, (l + 1) * k);
                for (int b = 0; b < k; b++) {
                    table.addRowProbabilitiesWith(l, cur[b], prev, cur, heat);
                }
            }
            double[] popularity = globalPopularity[l].clone();
            for (int e = 0; e < experts; e++) {
                popularity[e] += history.count(l, e);
            }
            double[] scores = BlendedPredictor.nextTokenScores(heat, history.decayed(l), popularity);
            expertsOut[l] = BlendedPredictor.top(scores, n);
            scoresOut[l] = new double[expertsOut[l].length];
            for (int i = 0; i < expertsOut[l].length; i++) {
                scoresOut[l][i] = scores[expertsOut[l][i]];
            }
        }
    }

    @Test
    void theFastPathGivesTheReferenceArraysBitForBit() {
        SplittableRandom random = new SplittableRandom(20251005);
        int cases = 0;
        int repeatedExperts = 0;
        for (int round = 0; round < 300; round++) {
            int layers = 1 + random.nextInt(6);
            int experts = 2 + random.nextInt(40);
            int k = 1 + random.nextInt(Math.min(experts, 9));
            int n = 1 + random.nextInt(experts + 3);
            double halfLife = random.nextInt(3) == 0 ? 0 : 1 + random.nextInt(20);
            TransitionHeatmap table = new TransitionHeatmap(layers, experts, halfLife);
            // Some rows stay empty: transitions only from a subset of the experts (none at all sometimes).
            int froms = random.nextInt(4) == 0 ? 0 : 1 + random.nextInt(experts);
            int observations = random.nextInt(400);
            for (int i = 0; i < observations && froms > 0; i++) {
                int layer = random.nextInt(layers);
                int from = random.nextInt(froms);
                int to = random.nextInt(experts);
                if (random.nextInt(3) == 0) {
                    table.add(layer, from, to, random.nextDouble() * 3); // decayed counts from a snapshot
                } else {
                    table.observe(layer, from, to);
                }
                if (random.nextInt(10) == 0) {
                    table.tick();
                }
            }
            double[][] global = new double[layers][experts];
            int popularityKind = random.nextInt(4); // 0: zeros, 1: integers, 2: fractions, 3: huge integers
            for (int l = 0; l < layers; l++) {
                for (int e = 0; e < experts; e++) {
                    global[l][e] = switch (popularityKind) {
                        case 0 -> 0;
                        case 1 -> random.nextInt(3) == 0 ? 0 : random.nextInt(1000);
                        case 2 -> random.nextDouble() * 50;
                        default -> (double) (1L << 50) + random.nextInt(1 << 20);
                    };
                }
            }
            RequestHistory history = new RequestHistory(layers, experts, k);
            int tokens = random.nextInt(4) == 0 ? 0 : random.nextInt(30);
            int[] before = null;
            int[] current = null;
            for (int t = 0; t < tokens; t++) {
                int[] token = token(random, layers, experts, k, current);
                history.observe(token, 0);
                before = current;
                current = token;
            }
            if (random.nextInt(5) == 0) {
                before = null; // the first decode step: the table already holds the prefill
            }
            for (int l = 0; before != null && l < layers; l++) {
                for (int b = 0; b < k; b++) {
                    for (int a = 0; a < k; a++) {
                        repeatedExperts += current[l * k + b] == before[l * k + a] ? 1 : 0;
                    }
                }
            }
            int m = Math.min(n, experts);
            int[][] expected = new int[layers][];
            double[][] expectedScores = new double[layers][];
            reference(table, global, history, current, before, k, n, expected, expectedScores);

            TransitionRows[] rows = new TransitionRows[layers];
            LayerPopularity[] popularity = new LayerPopularity[layers];
            for (int l = 0; l < layers; l++) {
                rows[l] = TransitionRows.of(table, l, k);
                popularity[l] = new LayerPopularity(global[l]);
            }
            NextTokenPredictor predictor = new NextTokenPredictor(layers, experts, k);
            for (int twice = 0; twice < 2; twice++) { // scratch reused: the second call must not see the first
                int[][] got = new int[layers][m];
                double[][] gotScores = new double[layers][m];
                predictor.predict(rows, popularity, history, current, before, n, got, gotScores);
                for (int l = 0; l < layers; l++) {
                    assertArrayEquals(expected[l], got[l], "round " + round + " layer " + l);
                    assertArrayEquals(expectedScores[l], gotScores[l], "round " + round + " layer " + l);
                }
            }
            cases++;
        }
        assertEquals(300, cases);
        assertTrue(repeatedExperts > 100, "experts shared by consecutive tokens were exercised: " + repeatedExperts);
    }

    /** A token of k ids per layer: often some of the previous token's (Insight 1), sometimes an id twice. */
    private static int[] token(SplittableRandom random, int layers, int experts, int k, int[] previous) {
        int[] ids = new int[layers * k];
        for (int l = 0; l < layers; l++) {
            for (int a = 0; a < k; a++) {
                int id;
                if (previous != null && random.nextInt(3) == 0) {
                    id = previous[l * k + random.nextInt(k)];
                } else {
                    id = random.nextInt(experts);
                }
                ids[l * k + a] = id;
            }
        }
        return ids;
    }

    @Test
    void anExpertSelectedByBothTokensGetsTheTransitionsTheTableCannotHoldYet() {
        // 1 layer, 3 experts, k = 2; table: 0 -> 1 twice. Tokens {0, 2} then {0, 1}: expert 0 is in both.
        TransitionHeatmap table = new TransitionHeatmap(1, 3);
        table.observe(0, 0, 1);
        table.observe(0, 0, 1);
        TransitionRows rows = TransitionRows.of(table, 0, 2);
        double[] heat = new double[3];
        double[] held = new double[2];
        rows.addRowWith(0, 1, new int[] {0, 1}, 0, heat, held);
        // row 0 with 0 -> {0, 1} observed: counts {1, 3, 0} over 2 + 2 = 4
        assertArrayEquals(new double[] {0.25, 0.75, 0}, heat);
        double[] reference = new double[3];
        table.addRowProbabilitiesWith(0, 0, new int[] {0, 2}, new int[] {0, 1}, reference);
        assertArrayEquals(reference, heat);
    }

    @Test
    void topIntoRanksAsTopWithTiesToTheLowerIdAndNaNs() {
        SplittableRandom random = new SplittableRandom(7);
        for (int round = 0; round < 2000; round++) {
            int length = 1 + random.nextInt(30);
            double[] scores = new double[length];
            for (int e = 0; e < length; e++) {
                int kind = random.nextInt(10);
                scores[e] = kind == 0 ? Double.NaN : kind < 4 ? random.nextInt(4) : kind == 4 ? -0.0 : random.nextDouble();
            }
            int n = 1 + random.nextInt(length + 2);
            int m = Math.min(n, length);
            int[] best = new int[length + 2];
            double[] bestScores = new double[length + 2];
            Arrays.fill(bestScores, 99); // stale scratch must not matter
            Ranking.topInto(scores, 0, length, m, best, bestScores);
            assertArrayEquals(Ranking.top(scores, n), Arrays.copyOf(best, m), "round " + round);
        }
    }
}
