package io.expertcast.core.predict;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PredictorEvaluationTest {
    private static final int[] N = {1, 2, 4, 8, 16};

    @Test
    void blendedBeatsEveryBaselineAtEveryNOnTheBundledRealRequests() {
        PredictorEvaluation evaluation = new PredictorEvaluation(N);
        TraceDataset.open(Path.of("..", "data", "sample"), ModelCatalog.standard()).requests(false, new ArrayList<>())
                .forEachRemaining(evaluation::add);
        PredictorEvaluation.Result r = evaluation.result();
        assertEquals(30, r.requests());
        // Pinned (evaluate-predictor --traces data/sample): a change of formula must show here. The next-token
        // columns moved once on purpose, when the heat began to read each row's top HEAT_ROW_WIDTH successors of
        // a table one decode token late (whole rows, current table: blended 0.36534 0.491107 0.609211 0.716239
        // 0.809178, token_heatmap 0.329649 0.424879 0.518388 0.608311 0.685713).
        assertArrayEquals(new double[] {0.237686, 0.334265, 0.447204, 0.569803, 0.696831},
                r.decodePlan().get("blended"), 5e-7);
        assertArrayEquals(new double[] {0.364529, 0.490022, 0.608871, 0.716118, 0.80909},
                r.nextToken().get("blended"), 5e-7);
        assertArrayEquals(new double[] {0.328103, 0.422774, 0.516064, 0.606086, 0.683596},
                r.nextToken().get("token_heatmap"), 5e-7);
        for (var section : List.of(r.decodePlan(), r.nextToken())) {
            double[] ours = section.get("blended");
            section.forEach((name, recall) -> {
                if (!name.equals("blended")) {
                    for (int i = 0; i < N.length; i++) {
                        assertTrue(ours[i] > recall[i], "blended @" + N[i] + " " + ours[i] + " vs " + name + " " + recall[i]);
                    }
                }
            });
        }
    }

    @Test
    void recallCountsHitsOverKPerSampleAndPredictsOnlyFromThePast() {
        // One request, 1 MoE layer of 4 experts, k = 2: prefill {0,1}; decode {0,1} then {2,3}.
        ModelShape m = ModelCatalog.parseShape("tiny:1:all:4:2");
        RequestTrace r = new RequestTrace(m, "tiny/b/s/0", "b", "s", "en",
                List.of(new int[] {0, 1}, new int[] {0, 1}, new int[] {2, 3}));
        PredictorEvaluation evaluation = new PredictorEvaluation(new int[] {2});
        evaluation.add(r);
        PredictorEvaluation.Result result = evaluation.result();
        // prefill_only plans {0,1}: step 1 hits 2 of 2, step 2 hits 0 of 2 -> 0.5.
        assertArrayEquals(new double[] {0.5}, result.decodePlan().get("prefill_only"), 1e-12);
        // recent at step 1 = {0,1} (2 hits); at step 2 still {0,1} (0 hits): it cannot see step 2 coming.
        assertArrayEquals(new double[] {0.5}, result.nextToken().get("recent"), 1e-12);
        assertEquals(2, result.nextTokenSamples());
    }
}
