package io.expertcast.core.predict;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * One MoE layer of a token->token {@link TransitionHeatmap} as the next-token prediction reads it at
 * every decode step (Insight 2): each row's probabilities divided out once, not 8 x E divisions per layer
 * and step. Adding a row gives the very same doubles as {@link TransitionHeatmap#addRowProbabilities};
 * {@link #addRowWith} the very same as {@link TransitionHeatmap#addRowProbabilitiesWith}, the case of an
 * expert the request's previous token selected too (Insight 1: consecutive tokens share experts, so it
 * is common). Read-only and thread-safe: shared by every stream thread reading one published table.
 */
public final class TransitionRows {
    private final int experts;
    private final int k;
    private final double[][] probabilities; // [from] -> P(next = j | from), null for a row with total 0
    private final double[][] counts;        // [from] -> decayed counts, null for an all-zero row
    private final double[] rowTotals;       // [from] -> decayed row sum
    /** [from] -> counts / (row total + k): the row with one more k x k token transition from it, lazily. */
    private final AtomicReferenceArray<double[]> oneMore;

    private TransitionRows(int experts, int k) {
        this.experts = experts;
        this.k = k;
        this.probabilities = new double[experts][];
        this.counts = new double[experts][];
        this.rowTotals = new double[experts];
        this.oneMore = new AtomicReferenceArray<>(experts);
    }

    /**
     * The rows of {@code layer} of {@code table}, for tokens of {@code k} experts per layer (the
     * predictor's {@link #addRowWith} adds k x k transitions).
     */
    public static TransitionRows of(TransitionHeatmap table, int layer, int k) {
        int experts = table.experts();
        TransitionRows rows = new TransitionRows(experts, k);
        double[] all = table.counts(layer); // count(layer, from, to): the cells divided by the weight
        for (int from = 0; from < experts; from++) {
            rows.rowTotals[from] = table.rowTotal(layer, from);
            double[] p = new double[experts];
            table.addRowProbabilities(layer, from, p); // nothing for a row with total 0
            boolean any = false;
            for (int j = 0; j < experts && !any; j++) {
                any = p[j] != 0;
            }
            rows.probabilities[from] = any ? p : null; // adding +-0.0 to a sum >= +0.0 changes nothing
            double[] c = java.util.Arrays.copyOfRange(all, from * experts, (from + 1) * experts);
            boolean nonZero = false;
            for (int j = 0; j < experts && !nonZero; j++) {
                nonZero = c[j] != 0;
            }
            // null only for a row of zeros with total 0: then (0 + 0) / (froms x k) adds nothing either
            rows.counts[from] = nonZero || rows.rowTotals[from] != 0 ? c : null;
        }
        return rows;
    }

    public int experts() {
        return experts;
    }

    /** The k the rows were built for. */
    public int topK() {
        return k;
    }

    /**
     * {@link TransitionHeatmap#addRowProbabilities}: adds P(next = j | {@code from}) for every j to
     * {@code into} (of {@link #experts()} sums that started at +0.0, so none is -0.0).
     */
    public void addRow(int from, double[] into) {
        double[] p = probabilities[from];
        if (p == null) {
            return; // the reference adds nothing either
        }
        for (int j = 0; j < p.length; j++) { // index j on both arrays: C2 vectorizes it (an offset stops it)
            into[j] += p[j];
        }
    }

    /**
     * {@link TransitionHeatmap#addRowProbabilitiesWith} for an expert {@code from} that the previous
     * token selected {@code froms} > 0 times: its row as if the k x k transitions previous -> current had
     * been observed too, {@code (count_j + froms x m_j) / (rowTotal + froms x k)} with m_j how often j is in
     * {@code current} (k ids from {@code currentAt}). {@code held} is scratch of k doubles.
     *
     * <p>Bit-identical to the reference: for an expert j not in current, {@code count_j + 0.0} is
     * {@code count_j} (counts are never -0.0), so its addend is {@code count_j / total}, precomputed once
     * per row for froms = 1 (rows of a real token list distinct experts); current's entries are then set
     * to the sums they held before plus their own addend, so every cell gets exactly the reference's one
     * addition.
     */
    public void addRowWith(int from, int froms, int[] current, int currentAt, double[] into, double[] held) {
        for (int b = 0; b < k; b++) {
            held[b] = into[current[currentAt + b]];
        }
        double total = rowTotals[from] + froms * (double) k;
        double[] c = counts[from];
        if (c != null) { // else every count is 0 and the total froms x k: only current's entries get mass
            if (froms == 1) {
                double[] q = oneMore(from);
                for (int j = 0; j < q.length; j++) {
                    into[j] += q[j];
                }
            } else {
                for (int j = 0; j < c.length; j++) {
                    into[j] += c[j] / total;
                }
            }
        }
        for (int b = 0; b < k; b++) {
            int j = current[currentAt + b];
            if (firstAt(current, currentAt, b, j)) {
                double extra = 0;
                for (int a = b; a < k; a++) {
                    if (current[currentAt + a] == j) {
                        extra += froms; // as the reference builds it: one addition per occurrence
                    }
                }
                into[j] = held[b] + ((c == null ? 0.0 : c[j]) + extra) / total;
            }
        }
    }

    private static boolean firstAt(int[] ids, int from, int slot, int id) {
        for (int s = 0; s < slot; s++) {
            if (ids[from + s] == id) {
                return false;
            }
        }
        return true;
    }

    /** counts / (row total + k), made on first use (two threads may both make it: same values). */
    private double[] oneMore(int from) {
        double[] q = oneMore.get(from);
        if (q == null) {
            double total = rowTotals[from] + 1 * (double) k;
            double[] c = counts[from];
            q = new double[experts];
            for (int j = 0; j < experts; j++) {
                q[j] = c[j] / total;
            }
            oneMore.set(from, q);
        }
        return q;
    }
}
