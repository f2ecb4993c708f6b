package io.expertcast.predictor;

import io.expertcast.core.predict.BlendedPredictor;
import io.expertcast.core.predict.TransitionHeatmap;

/**
 * A published token->token table as the next-token prediction reads it: per expert its
 * {@link BlendedPredictor#HEAT_ROW_WIDTH} most frequent successors and their probabilities P(next = j |
 * expert), divided out once when the snapshot is parsed, in flat arrays (row e at e x width). Adding a
 * row gives the very same doubles, in the same order, as {@link TransitionHeatmap#addTopRowProbabilities}
 * (what the offline evaluation reads). For DeepSeek-V3 that is 58 layers x 98 KB, small enough to stay in
 * the L3 cache, where whole rows (58 x 512 KB) made every decode event read 464 rows from DRAM.
 * Read-only: shared by the tasks of an instance.
 */
final class TokenTransitions {
    private final int width;
    private final int[] lengths;          // [expert] -> successors kept (0: a row never seen)
    private final int[] successors;       // [expert * width + i]
    private final double[] probabilities; // [expert * width + i]

    TokenTransitions(TransitionHeatmap counts) {
        int experts = counts.experts();
        this.width = Math.min(BlendedPredictor.HEAT_ROW_WIDTH, experts);
        this.lengths = new int[experts];
        this.successors = new int[experts * width];
        this.probabilities = new double[experts * width];
        int[] top = new int[width];
        double[] row = new double[experts];
        for (int e = 0; e < experts; e++) {
            if (counts.rowTotal(0, e) == 0) {
                continue;
            }
            int m = counts.topSuccessors(0, e, width, top);
            counts.addTopRowProbabilities(0, e, width, row);
            for (int i = 0; i < m; i++) {
                successors[e * width + i] = top[i];
                probabilities[e * width + i] = row[top[i]];
                row[top[i]] = 0;
            }
            lengths[e] = m;
        }
    }

    /** {@link TransitionHeatmap#addTopRowProbabilities} of {@code expert} at this layer, into {@code into}. */
    void addRow(int expert, double[] into) {
        int at = expert * width;
        for (int i = 0, m = lengths[expert]; i < m; i++) {
            into[successors[at + i]] += probabilities[at + i];
        }
    }
}
