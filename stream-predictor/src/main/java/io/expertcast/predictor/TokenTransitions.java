package io.expertcast.predictor;

import io.expertcast.core.predict.BlendedPredictor;
import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.schemas.HeatmapSnapshot;

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

    /**
     * Straight from a snapshot's cells (null: nothing published), without building the dense table: a
     * row's total is its cells summed in target order and its top successors are chosen as
     * {@link TransitionHeatmap#topSuccessors} chooses them, so the doubles are those of
     * {@code new TokenTransitions(HeatmapSnapshots.toTransitions(snapshot, 0))}.
     */
    static TokenTransitions of(HeatmapSnapshot snapshot, int experts) {
        TokenTransitions t = new TokenTransitions(snapshot == null ? experts : snapshot.getNumExperts());
        if (snapshot == null) {
            return t;
        }
        int n = t.lengths.length;
        double[] rowCells = new double[n];
        int[] rowTargets = new int[n];
        int[] size = {0};
        int[] from = {-1};
        HeatmapSnapshots.forEachCell(snapshot, (f, to, w) -> {
            if (f != from[0]) {
                t.keepTop(from[0], rowTargets, rowCells, size[0]);
                from[0] = f;
                size[0] = 0;
            }
            rowTargets[size[0]] = to;
            rowCells[size[0]++] = w;
        });
        t.keepTop(from[0], rowTargets, rowCells, size[0]);
        return t;
    }

    private TokenTransitions(int experts) {
        this.width = Math.min(BlendedPredictor.HEAT_ROW_WIDTH, experts);
        this.lengths = new int[experts];
        this.successors = new int[experts * width];
        this.probabilities = new double[experts * width];
    }

    /** One row's cells (targets ascending): its top {@code width} successors and their probabilities. */
    private void keepTop(int expert, int[] targets, double[] cells, int size) {
        if (expert < 0 || size == 0) {
            return;
        }
        double total = 0;
        for (int i = 0; i < size; i++) {
            total += cells[i];
        }
        if (total == 0) {
            return;
        }
        int at = expert * width;
        double[] kept = new double[width];
        int m = 0;
        for (int i = 0; i < size; i++) {
            double c = cells[i];
            if (c == 0) {
                continue;
            }
            int slot;
            if (m < width) {
                slot = m++;
            } else if (kept[width - 1] < c) {
                slot = width - 1;
            } else {
                continue;
            }
            while (slot > 0 && kept[slot - 1] < c) {
                successors[at + slot] = successors[at + slot - 1];
                kept[slot] = kept[slot - 1];
                slot--;
            }
            successors[at + slot] = targets[i];
            kept[slot] = c;
        }
        for (int i = 0; i < m; i++) {
            probabilities[at + i] = kept[i] / total;
        }
        lengths[expert] = m;
    }

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
