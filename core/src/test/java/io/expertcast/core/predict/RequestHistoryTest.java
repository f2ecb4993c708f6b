package io.expertcast.core.predict;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class RequestHistoryTest {
    private static final int LAYERS = 3;
    private static final int EXPERTS = 16;
    private static final int K = 4;

    @Test
    void lazyDecayGivesTheDecayedCountsOfTheEagerDefinitionThroughRescales() {
        Random random = new Random(11);
        RequestHistory history = new RequestHistory(LAYERS, EXPERTS, K);
        double[] eager = new double[LAYERS * EXPERTS];
        double decay = Math.pow(0.5, 1 / BlendedPredictor.HALF_LIFE_TOKENS);
        int tokens = 6000; // the unit passes 1e100 (about every 2,660 tokens) twice
        double smallestScale = Double.MAX_VALUE;
        for (int t = 0; t < tokens; t++) {
            int[] ids = new int[LAYERS * K];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(EXPERTS);
            }
            history.observe(ids, 0);
            for (int i = 0; i < eager.length; i++) {
                eager[i] *= decay;
            }
            for (int l = 0; l < LAYERS; l++) {
                for (int a = 0; a < K; a++) {
                    eager[l * EXPERTS + ids[l * K + a]] += 1;
                }
            }
            smallestScale = Math.min(smallestScale, history.decayScale());
            double[] cells = history.decayed();
            for (int i = 0; i < eager.length; i++) {
                assertEquals(eager[i], cells[i] / history.decayScale(), 1e-9 * Math.max(1, eager[i]), "token " + t);
            }
        }
        assertEquals(tokens, history.tokens());
        assertTrue(smallestScale < 2, "the unit was rescaled");
    }

    @Test
    void aRestoredHistoryContinuesBitForBit() {
        Random random = new Random(5);
        RequestHistory original = new RequestHistory(LAYERS, EXPERTS, K);
        RequestHistory restored = null;
        for (int t = 0; t < 400; t++) {
            int[] ids = new int[LAYERS * K];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(EXPERTS);
            }
            if (t == 150) {
                restored = RequestHistory.of(LAYERS, EXPERTS, K, original.counts(), original.decayed(),
                        original.decayedTotals(), original.decayScale(), original.tokens());
            }
            original.observe(ids, 0);
            if (restored != null) {
                restored.observe(ids, 0);
            }
        }
        assertArrayEquals(original.decayed(), restored.decayed());
        assertArrayEquals(original.counts(), restored.counts());
        assertEquals(original.decayScale(), restored.decayScale());
        assertArrayEquals(original.decayedTotals(), restored.decayedTotals());
    }

    @Test
    void eachLayersKeptTotalIsItsCellsSum() {
        Random random = new Random(11);
        RequestHistory h = new RequestHistory(LAYERS, EXPERTS, K);
        for (int t = 0; t < 3000; t++) { // past a rescale (the unit grows by 2^(1/8) per token)
            int[] ids = new int[LAYERS * K];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(EXPERTS);
            }
            h.observe(ids, 0);
            if (t % 97 == 0) {
                for (int l = 0; l < LAYERS; l++) {
                    double sum = 0;
                    for (double v : h.decayed(l)) {
                        sum += v;
                    }
                    assertEquals(sum, h.decayedTotal(l), sum * 1e-12, "token " + t + " layer " + l);
                }
            }
        }
    }
}
