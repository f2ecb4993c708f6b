package io.expertcast.core.predict;

/**
 * One MoE layer of a token->token {@link TransitionHeatmap} as the next-token prediction reads it at
 * every decode step (Insight 2): per expert its {@link BlendedPredictor#HEAT_ROW_WIDTH} most frequent
 * successors and their probabilities P(next = j | expert) (a cell over its whole row), divided out once,
 * in flat arrays (row e at e x width). A successor is held as 16 bits and a probability as float32 (the
 * double {@link TransitionHeatmap#addTopRowProbabilities} gives, rounded once): a decode event reads k rows
 * per layer, 464 rows for DeepSeek-V3, and at 6 bytes an entry a row is 192 bytes (3 cache lines) instead
 * of 384. The offline evaluation reads rows through this class too, so live and offline add the same
 * doubles. For DeepSeek-V3 a layer is 49 KB. Read-only: shared by every stream thread reading one
 * published table.
 */
public final class TransitionRows {
    private final int experts;
    private final int width;
    private final int[] lengths;          // [expert] -> successors kept (0: a row never seen)
    private final char[] successors;      // [expert * width + i], most frequent first (ties: lower id)
    private final float[] probabilities;  // [expert * width + i]
    private final double[] masses;        // [expert] -> its kept probabilities summed in order (0: never seen)

    private TransitionRows(int experts) {
        if (experts > Character.MAX_VALUE + 1) {
            throw new IllegalArgumentException("rows hold successor ids in 16 bits, got " + experts + " experts");
        }
        this.experts = experts;
        this.width = Math.min(BlendedPredictor.HEAT_ROW_WIDTH, experts);
        this.lengths = new int[experts];
        this.successors = new char[experts * width];
        this.probabilities = new float[experts * width];
        this.masses = new double[experts];
    }

    /** The rows of {@code layer} of {@code table}: its {@link TransitionHeatmap#addTopRowProbabilities}. */
    public static TransitionRows of(TransitionHeatmap table, int layer) {
        return of(table, layer, null, 0, 0);
    }

    /**
     * Only the rows {@code froms[at .. at + count)} of {@code layer} of {@code table} (the others read as
     * never seen), each exactly as {@link #of(TransitionHeatmap, int)} holds it: what the offline evaluation
     * builds for the k rows a step reads, where the whole table changes at every token.
     */
    public static TransitionRows of(TransitionHeatmap table, int layer, int[] froms, int at, int count) {
        TransitionRows rows = new TransitionRows(table.experts());
        int width = rows.width;
        int[] top = new int[width];
        double[] p = new double[rows.experts];
        int end = froms == null ? rows.experts : count;
        for (int i = 0; i < end; i++) {
            int from = froms == null ? i : froms[at + i];
            if (table.rowTotal(layer, from) == 0 || rows.lengths[from] > 0) {
                continue;
            }
            int m = table.topSuccessors(layer, from, width, top);
            table.addTopRowProbabilities(layer, from, width, p);
            for (int j = 0; j < m; j++) {
                rows.successors[from * width + j] = (char) top[j];
                rows.probabilities[from * width + j] = (float) p[top[j]]; // 0.0 + x: x itself
                p[top[j]] = 0;
            }
            rows.lengths[from] = m;
            rows.sumMass(from);
        }
        return rows;
    }

    private void sumMass(int from) {
        double s = 0;
        for (int i = 0, at = from * width; i < lengths[from]; i++) {
            s += probabilities[at + i];
        }
        masses[from] = s;
    }

    /** No row seen: adds nothing. */
    public static TransitionRows empty(int experts) {
        return new Builder(experts).build();
    }

    public int experts() {
        return experts;
    }

    /**
     * {@link TransitionHeatmap#addTopRowProbabilities} of {@code from} into {@code into} (sums that started
     * at +0.0), each probability as its float32 rounding.
     */
    public void addRow(int from, double[] into) {
        int at = from * width;
        for (int i = 0, m = lengths[from]; i < m; i++) {
            into[successors[at + i]] += probabilities[at + i];
        }
    }

    /** What {@link #addRow} adds in all, summed in the same order (0 for a row never seen). */
    public double mass(int from) {
        return masses[from];
    }

    /** Successors kept for the row (0: a row never seen). */
    public int length(int from) {
        return lengths[from];
    }

    /** The row's i-th most probable successor, i < {@link #length}. */
    public int successor(int from, int i) {
        return successors[from * width + i];
    }

    /** Rows handed over one at a time, e.g. straight from a published snapshot's cells. */
    public static final class Builder {
        private TransitionRows rows;
        private double[] kept;

        public Builder(int experts) {
            this.rows = new TransitionRows(experts);
            this.kept = new double[rows.width];
        }

        /**
         * Row {@code from}: its non-zero cells, targets ascending, and its total. Top successors are chosen
         * as {@link TransitionHeatmap#topSuccessors} chooses them, so a row handed over from a table's
         * counts and total gives that table's {@link TransitionHeatmap#addTopRowProbabilities}.
         */
        public Builder row(int from, double total, int[] targets, double[] cells, int size) {
            if (total == 0 || size == 0) {
                return this;
            }
            int width = rows.width;
            int at = from * width;
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
                    rows.successors[at + slot] = rows.successors[at + slot - 1];
                    kept[slot] = kept[slot - 1];
                    slot--;
                }
                rows.successors[at + slot] = (char) targets[i];
                kept[slot] = c;
            }
            for (int i = 0; i < m; i++) {
                rows.probabilities[at + i] = (float) (kept[i] / total);
            }
            rows.lengths[from] = m;
            rows.sumMass(from);
            return this;
        }

        public TransitionRows build() {
            TransitionRows built = rows;
            rows = null; // one table per builder
            return built;
        }
    }
}
