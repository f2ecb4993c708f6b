package io.expertcast.core.predict;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The fast next-token path gives exactly the reference formulas' arrays (bit for bit) on random inputs. */
class NextTokenPredictorTest {

    /**
     * The reference: the formula ({@link BlendedPredictor#nextTokenScores} with its totals) on dense arrays,
     * ranked by {@link BlendedPredictor#top}. The totals are the ones the fast path keeps: heat = each read
     * row's top probabilities (each rounded to float32, as the rows hold them) summed in its order, rows in
     * slot order; decayed = the history's kept total;
     * popularity summed in expert order (exact for integers, so any order).
     */
    private static void reference(TransitionHeatmap table, double[][] globalPopularity, RequestHistory history,
                                  int[] current, int k, int n, int[][] expertsOut, double[][] scoresOut) {
        int experts = table.experts();
        int width = Math.min(BlendedPredictor.HEAT_ROW_WIDTH, experts);
        for (int l = 0; l < table.layers(); l++) {
            double[] heat = new double[experts];
            double heatTotal = 0;
            if (current != null) {
                int[] cur = Arrays.copyOfRange(current, l * k, (l + 1) * k);
                for (int b = 0; b < k; b++) {
                    double[] row = new double[experts];
                    table.addTopRowProbabilities(l, cur[b], BlendedPredictor.HEAT_ROW_WIDTH, row);
                    int[] top = new int[width];
                    int m = table.rowTotal(l, cur[b]) == 0 ? 0 : table.topSuccessors(l, cur[b], width, top);
                    double mass = 0;
                    for (int i = 0; i < m; i++) {
                        double p = (float) row[top[i]]; // the rows hold each probability as float32
                        heat[top[i]] += p;
                        mass += p;
                    }
                    heatTotal += mass;
                }
            }
            double[] popularity = globalPopularity[l].clone();
            double popularityTotal = 0;
            for (int e = 0; e < experts; e++) {
                popularity[e] += history.count(l, e);
                popularityTotal += popularity[e];
            }
            double[] scores = BlendedPredictor.nextTokenScores(heat, heatTotal, history.decayed(l),
                    history.decayedTotal(l), popularity, popularityTotal);
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
        int wideRows = 0;
        int signed = 0; // popularity with negative counts: ranked on order-preserving keys, not the raw bits
        for (int round = 0; round < 300; round++) {
            int layers = 1 + random.nextInt(6);
            int experts = 2 + random.nextInt(60); // past HEAT_ROW_WIDTH too
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
            // 0: zeros, 1: integers, 2: fractions, 3: huge integers, 4: signed fractions and -0.0 (negative
            // scores: the top-n's order-preserving keys must order them as doubles do)
            int popularityKind = random.nextInt(5);
            for (int l = 0; l < layers; l++) {
                for (int e = 0; e < experts; e++) {
                    global[l][e] = switch (popularityKind) {
                        case 0 -> 0;
                        case 1 -> random.nextInt(3) == 0 ? 0 : random.nextInt(1000);
                        case 2 -> random.nextDouble() * 50;
                        case 4 -> random.nextInt(3) == 0 ? -0.0 : random.nextDouble() * 50 - 40;
                        default -> (double) (1L << 50) + random.nextInt(1 << 20);
                    };
                }
            }
            RequestHistory history = new RequestHistory(layers, experts, k);
            int tokens = random.nextInt(4) == 0 ? 0 : random.nextInt(30);
            int[] current = null;
            for (int t = 0; t < tokens; t++) {
                int[] token = token(random, layers, experts, k, current);
                history.observe(token, 0);
                current = token;
            }
            wideRows += experts > BlendedPredictor.HEAT_ROW_WIDTH ? 1 : 0;
            signed += popularityKind == 4 ? 1 : 0;
            int m = Math.min(n, experts);
            int[][] expected = new int[layers][];
            double[][] expectedScores = new double[layers][];
            reference(table, global, history, current, k, n, expected, expectedScores);

            TransitionRows[] rows = new TransitionRows[layers];
            LayerPopularity[] popularity = new LayerPopularity[layers];
            for (int l = 0; l < layers; l++) {
                rows[l] = TransitionRows.of(table, l);
                popularity[l] = new LayerPopularity(global[l]);
            }
            NextTokenPredictor predictor = new NextTokenPredictor(layers, experts, k);
            for (int twice = 0; twice < 2; twice++) { // scratch reused: the second call must not see the first
                int[][] got = new int[layers][m];
                double[][] gotScores = new double[layers][m];
                predictor.predict(rows, popularity, history, current, n, got, gotScores);
                for (int l = 0; l < layers; l++) {
                    assertArrayEquals(expected[l], got[l], "round " + round + " layer " + l);
                    assertArrayEquals(expectedScores[l], gotScores[l], "round " + round + " layer " + l);
                }
            }
            cases++;
        }
        assertEquals(300, cases);
        assertTrue(wideRows > 50, "rows wider than HEAT_ROW_WIDTH were exercised: " + wideRows);
        assertTrue(signed > 30 && signed < 270, "both rankings were exercised: " + signed + " signed of 300");
    }

    @Test
    void onlyFiniteNonNegativeCountsLetScoresBeRankedOnTheirRawBits() {
        assertTrue(new LayerPopularity(new double[] {0, -0.0, 3, 0.5, 1e300}).nonNegative(), "-0.0 counts as zero");
        assertTrue(new LayerPopularity(new double[0]).nonNegative());
        for (double bad : new double[] {-1e-300, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            assertTrue(!new LayerPopularity(new double[] {1, bad}).nonNegative(), "a count of " + bad);
        }
        assertTrue(!new LayerPopularity(new double[] {Double.MAX_VALUE, Double.MAX_VALUE}).nonNegative(),
                "a total that overflows");
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
    void aRowAddsItsTopSuccessorsAsShareOfTheWholeRow() {
        int experts = BlendedPredictor.HEAT_ROW_WIDTH + 8;
        TransitionHeatmap table = new TransitionHeatmap(1, experts);
        double total = 0;
        for (int j = 0; j < experts; j++) {
            table.add(0, 3, j, j + 1); // successor j seen j + 1 times
            total += j + 1;
        }
        double[] heat = new double[experts];
        TransitionRows.of(table, 0).addRow(3, heat);
        for (int j = 0; j < experts; j++) {
            assertEquals(j < 8 ? 0.0 : (float) ((j + 1) / total), heat[j], 0.0, "successor " + j);
        }
        double[] none = new double[experts];
        TransitionRows.of(table, 0).addRow(2, none);
        assertArrayEquals(new double[experts], none, "a row never seen adds nothing");
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
            assertArrayEquals(referenceTop(scores, n), Arrays.copyOf(best, m), "round " + round);
            assertArrayEquals(referenceTop(scores, n), Ranking.top(scores, n), "round " + round);
        }
    }

    /** Ranking.top as it was before it shared topInto's loop (the rule every predictor's ranking follows). */
    private static int[] referenceTop(double[] scores, int n) {
        int m = Math.min(n, scores.length);
        if (m <= 0) {
            return new int[0];
        }
        int[] best = new int[m];
        double[] bestScore = new double[m];
        int filled = 0;
        for (int e = 0; e < scores.length; e++) {
            double s = scores[e];
            if (filled == m && s <= bestScore[m - 1]) {
                continue;
            }
            int at = filled < m ? filled++ : m - 1;
            while (at > 0 && bestScore[at - 1] < s) {
                best[at] = best[at - 1];
                bestScore[at] = bestScore[at - 1];
                at--;
            }
            best[at] = e;
            bestScore[at] = s;
        }
        return best;
    }
}
