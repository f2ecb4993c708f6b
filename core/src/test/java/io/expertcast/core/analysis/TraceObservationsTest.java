package io.expertcast.core.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every figure of issue 3 on traces small enough to compute by hand. */
class TraceObservationsTest {
    private static final ModelShape TINY = ModelCatalog.parseShape("tiny:2:all:5:1"); // 2 MoE layers, E = 5, top-1

    /** Prefill (0,1),(0,1); decode (0,1),(0,2),(1,2): each pair is (layer 0 expert, layer 1 expert). */
    private static RequestTrace tinyRequest() {
        return new RequestTrace(TINY, "tiny/b/s/0", "b", "s", "en",
                List.of(new int[] {0, 1, 0, 1}, new int[] {0, 1}, new int[] {0, 2}, new int[] {1, 2}));
    }

    @Test
    void decodeFiguresMatchAHandCount() {
        TraceObservations o = new TraceObservations(TINY, Phase.DECODE);
        o.add(tinyRequest());
        ObservationReport r = o.report();
        // Top ceil(0.2 x 5) = 1 cell. Layer 0: most frequent expert 0, next-token row {0:1, 1:1} -> 0.5;
        // layer 1: most frequent expert 2, row {2:1} -> 1.0.
        assertArrayEquals(new double[] {0.5, 1.0}, r.tokenLevelTop20Coverage(), 1e-12);
        assertEquals(0.75, r.tokenLevelCoverage(), 1e-12);
        // Layer 0 -> 1 for expert 0: {1:1, 2:1} -> 0.5.
        assertArrayEquals(new double[] {0.5}, r.layerLevelTop20Coverage(), 1e-12);
        // Hot: 2 of 3 selections on one expert over a mean of 3 / 5.
        assertArrayEquals(new double[] {10 / 3.0, 10 / 3.0}, r.hotExpertRatio(), 1e-12);
        // Spearman with average ranks: layer 0 prefill [2,0,0,0,0] vs decode [2,1,0,0,0] = 5/sqrt(40);
        // layer 1 [0,2,0,0,0] vs [0,1,2,0,0] = 2.5/sqrt(40).
        assertArrayEquals(new double[] {5 / Math.sqrt(40), 2.5 / Math.sqrt(40)}, r.prefillDecodeSpearman(), 1e-12);
        assertEquals(1.0, r.top5Overlap()[0], 1e-12); // E = 5: every expert is in both top-5 lists
        assertEquals(3, r.phaseTokens());
        assertNull(r.top10PctPairShare(), "top-1 models have no pairs");
        Map<String, Object> json = r.toJson();
        assertEquals(0.75, json.get("token_level_top20_coverage"));
        assertNull(json.get("top10pct_pair_share"));
        assertTrue(json.get("per_layer") instanceof Map);
    }

    @Test
    void prefillPhaseUsesTheRowsOfStepZero() {
        TraceObservations o = new TraceObservations(TINY, Phase.PREFILL);
        o.add(tinyRequest());
        ObservationReport r = o.report();
        assertEquals(2, r.phaseTokens());
        assertArrayEquals(new double[] {1.0, 1.0}, r.tokenLevelTop20Coverage(), 1e-12); // 0->0 and 1->1 only
    }

    @Test
    void pairsCountUnorderedCoActivationsOfOneToken() {
        ModelShape pairsModel = ModelCatalog.parseShape("pairs:1:all:4:2");
        TraceObservations o = new TraceObservations(pairsModel, Phase.DECODE);
        o.add(new RequestTrace(pairsModel, "pairs/b/s/0", "b", "s", "en",
                List.of(new int[] {0, 1}, new int[] {1, 0}, new int[] {0, 1}, new int[] {2, 3})));
        ObservationReport r = o.report();
        // Pairs (0,1) x 2 and (2,3) x 1 of 6 possible; the top ceil(0.6) = 1 pair holds 2 of 3.
        assertEquals(2 / 3.0, r.pairShare(), 1e-12);
        assertEquals(2 / (3 / 6.0), r.pairOverUniformMax(), 1e-12);
    }

    @Test
    void spearmanIsUndefinedForAConstantVector() {
        assertTrue(Double.isNaN(RankCorrelation.spearman(new double[] {1, 1, 1}, new double[] {1, 2, 3})));
        assertEquals(1.0, RankCorrelation.spearman(new double[] {1, 2, 3}, new double[] {10, 20, 30}), 1e-12);
        assertArrayEquals(new double[] {1.5, 1.5, 3}, RankCorrelation.averageRanks(new double[] {0, 0, 7}), 1e-12);
    }
}
