package io.expertcast.core.predict;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import java.util.List;
import org.junit.jupiter.api.Test;

class DecodePlanEvaluatorTest {

    private static final ModelShape TOY = new ModelShape("toy", 2, new int[] {0, 1}, 8, 2, 16, 16, 2.0);

    private static RequestTrace request(String id, int[]... steps) {
        return new RequestTrace(TOY, id, "b", "s", "en", List.of(steps));
    }

    /*
     * Hand computation, n = 2, k = 2, ids per token = [layer0 row][layer1 row]:
     * A prefill rows  L0: {0,1} {0,2} {1,3} -> counts 0:2 1:2 2:1 3:1 -> plan [0,1]
     *                 L1: {5,6} {5,7} {4,5} -> counts 5:3 4:1 6:1 7:1 -> plan [5,4] (tie -> lower id 4)
     *   decode 1: L0 {0,3} -> 1 hit; L1 {5,6} -> 1 hit
     *   decode 2: L0 {1,0} -> 2 hits; L1 {7,7} = set {7} -> 0 hits
     * B prefill L0 {2,3} -> plan [2,3]; L1 {4,6} -> plan [4,6]
     *   decode 1: L0 {2,5} -> 1 hit; L1 {6,4} -> 2 hits
     * C prefill only: no decode step, not scored, no plan.
     * samples = 6, hits = 7, selected = 6 x 2 = 12, requests = 2, recall@2 = 7/12; predicted = 6 x 2 = 12,
     * so precision = 7/12; 5 of the 6 samples have a hit.
     */
    @Test
    void recallOnAHandMadeTraceMatchesTheHandComputation() {
        RequestTrace a = request("a",
                new int[] {0, 1, 5, 6, 0, 2, 5, 7, 1, 3, 4, 5},
                new int[] {0, 3, 5, 6},
                new int[] {1, 0, 7, 7});
        RequestTrace b = request("b", new int[] {2, 3, 4, 6}, new int[] {2, 5, 6, 4});
        RequestTrace c = request("c", new int[] {1, 2, 3, 4});
        RecallAtN recall = DecodePlanEvaluator.evaluate(List.of(a, b, c), 2);
        assertEquals(new RecallAtN(6, 7, 12, 2, 12, 5), recall);
        assertEquals(7.0 / 12.0, recall.recall(), 1e-12);
        assertEquals(7.0 / 12.0, recall.precision(), 1e-12);
        assertEquals(5.0 / 6.0, recall.hitRate(), 1e-12);
    }

    @Test
    void largerNNeverLowersRecall() {
        RequestTrace a = request("a",
                new int[] {0, 1, 5, 6, 0, 2, 5, 7, 1, 3, 4, 5},
                new int[] {0, 3, 5, 6},
                new int[] {1, 0, 7, 7});
        // n = 8 plans every prefill expert: L0 {0,1,2,3}, L1 {5,4,6,7}: hits 2+2+2+1 = 7 of 8, of 16 predicted.
        assertEquals(new RecallAtN(4, 7, 8, 1, 16, 4), DecodePlanEvaluator.evaluate(List.of(a), 8));
        assertEquals(0.0, new RecallAtN().recall());
    }
}
