package io.expertcast.predictor;

import io.expertcast.core.predict.TransitionHeatmap;

/**
 * A published token->token table as the next-token prediction reads it: every row's probabilities
 * P(next = j | expert) divided out once when the snapshot is parsed, not 8 x 256 divisions per layer at
 * every decode step. Adding a precomputed row gives the very same doubles as
 * {@link TransitionHeatmap#addRowProbabilities}. Read-only: shared by the tasks of an instance.
 */
final class TokenTransitions {
    private final TransitionHeatmap counts;
    private final double[][] rows; // [expert] -> probabilities, null for a row never seen

    TokenTransitions(TransitionHeatmap counts) {
        this.counts = counts;
        int experts = counts.experts();
        this.rows = new double[experts][];
        for (int e = 0; e < experts; e++) {
            if (counts.rowTotal(0, e) != 0) {
                double[] p = new double[experts];
                counts.addRowProbabilities(0, e, p);
                rows[e] = p;
            }
        }
    }

    /**
     * {@link TransitionHeatmap#addRowProbabilitiesWith}: the row of {@code expert}, as if the transitions
     * previous -> current had been observed too (only rows of experts in {@code previous} change).
     */
    void addRowProbabilitiesWith(int expert, int[] previous, int[] current, double[] into) {
        for (int a : previous) {
            if (a == expert) {
                counts.addRowProbabilitiesWith(0, expert, previous, current, into);
                return;
            }
        }
        double[] p = rows[expert];
        if (p != null) {
            for (int j = 0; j < p.length; j++) {
                into[j] += p[j];
            }
        }
    }
}
