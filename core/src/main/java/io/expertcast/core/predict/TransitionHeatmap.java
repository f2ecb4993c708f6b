package io.expertcast.core.predict;

import io.expertcast.core.model.ModelShape;
import java.util.Arrays;

/**
 * The paper's transition heatmaps (Insight 2, Ob2), one class for both kinds: per MoE layer, how often
 * expert j followed expert i. Token level: i selected by token t of a request, j by its token t+1 at
 * the same layer ({@link #observeToken}). Layer level: i at layer l, j at the next MoE layer of the same
 * token (the caller passes the two rows to {@link #observe}). The predictor of the case study reads,
 * for every expert the current token selected, its row and keeps the top-n successors; the union is
 * the set forecast for the next token (section "Predictor" in docs/paper-notes.md).
 *
 * <p>Optional exponential decay so the table follows drift: with a half-life of H tokens, a
 * transition observed {@code d} ticks ago weighs 0.5^(d/H). Implemented without touching old cells:
 * each new observation adds a weight that grows by 2^(1/H) per {@link #tick}, and reads divide by the
 * current weight (rescaled when it grows large). Without decay every weight is 1, so counts are exact
 * integers and probabilities are bit-identical to integer counts.
 *
 * <p>Deterministic: ties rank the lower expert id first; a successor never observed is never predicted.
 * Not thread-safe.
 */
public final class TransitionHeatmap {
    private static final double RESCALE_AT = 1e100;

    private final int layers;
    private final int experts;
    private final double halfLifeTokens;   // 0: no decay
    private final double growth;           // per tick: 2^(1/H), or 1
    private final double[][] cells;        // per layer: [from * experts + to], scaled by 1/weight on read
    private final double[][] rowTotals;    // per layer: [from], same scale
    private final int[] topScratch;
    private double weight = 1;

    /** Without decay. */
    public TransitionHeatmap(int layers, int experts) {
        this(layers, experts, 0);
    }

    /**
     * @param halfLifeTokens decay half-life in {@link #tick ticks} (tokens); 0 or infinite for no decay
     */
    public TransitionHeatmap(int layers, int experts, double halfLifeTokens) {
        if (layers <= 0 || experts <= 0) {
            throw new IllegalArgumentException("heatmap needs positive layers and experts, got " + layers + ", " + experts);
        }
        if (halfLifeTokens < 0 || Double.isNaN(halfLifeTokens)) {
            throw new IllegalArgumentException("half-life must be >= 0 (0 = no decay), got " + halfLifeTokens);
        }
        this.layers = layers;
        this.experts = experts;
        this.halfLifeTokens = Double.isInfinite(halfLifeTokens) ? 0 : halfLifeTokens;
        this.growth = this.halfLifeTokens == 0 ? 1 : Math.pow(2, 1 / this.halfLifeTokens);
        this.cells = new double[layers][experts * experts];
        this.rowTotals = new double[layers][experts];
        this.topScratch = new int[experts];
    }

    /** The token-level table of a model, without decay. */
    public static TransitionHeatmap of(ModelShape model) {
        return new TransitionHeatmap(model.numMoeLayers(), model.numExperts());
    }

    public int layers() {
        return layers;
    }

    public int experts() {
        return experts;
    }

    /** 0 when the table does not decay. */
    public double halfLifeTokens() {
        return halfLifeTokens;
    }

    /** One token went by: everything observed so far weighs 2^(-1/H) less (no effect without decay). */
    public void tick() {
        if (growth == 1) {
            return;
        }
        weight *= growth;
        if (weight > RESCALE_AT) {
            for (int l = 0; l < layers; l++) {
                double[] c = cells[l];
                for (int i = 0; i < c.length; i++) {
                    c[i] /= weight;
                }
                double[] t = rowTotals[l];
                for (int i = 0; i < t.length; i++) {
                    t[i] /= weight;
                }
            }
            weight = 1;
        }
    }

    /** Records one transition at {@code layer}: expert {@code from}, then {@code to}. */
    public void observe(int layer, int from, int to) {
        add(layer, from, to, 1);
    }

    /** Adds {@code amount} (in today's units: a fresh observation is 1) to one cell, e.g. to restore a snapshot. */
    public void add(int layer, int from, int to, double amount) {
        double w = amount * weight;
        cells[layer][from * experts + to] += w;
        rowTotals[layer][from] += w;
    }

    /**
     * Records every transition between two consecutive tokens of one request: {@code previous} and
     * {@code next} hold [moe layer][k] ids starting at the given offsets (k x k pairs per layer). Does
     * not {@link #tick}: the caller decides what a tick is.
     */
    public void observeToken(int[] previous, int previousAt, int[] next, int nextAt, int k) {
        for (int l = 0; l < layers; l++) {
            double[] row = cells[l];
            double[] totals = rowTotals[l];
            for (int a = 0; a < k; a++) {
                int from = previous[previousAt + l * k + a];
                int base = from * experts;
                for (int b = 0; b < k; b++) {
                    row[base + next[nextAt + l * k + b]] += weight;
                }
                totals[from] += k * weight;
            }
        }
    }

    /** The decayed count of one cell (an integer count without decay). */
    public double count(int layer, int from, int to) {
        return cells[layer][from * experts + to] / weight;
    }

    /** The decayed sum of a row. */
    public double rowTotal(int layer, int from) {
        return rowTotals[layer][from] / weight;
    }

    /** Adds P(next = j | {@code expert}) for every j to {@code into}; nothing for an expert never seen. */
    public void addRowProbabilities(int layer, int expert, double[] into) {
        double total = rowTotals[layer][expert];
        if (total == 0) {
            return;
        }
        double[] c = cells[layer];
        int base = expert * experts;
        for (int j = 0; j < experts; j++) {
            into[j] += c[base + j] / total;
        }
    }

    /**
     * Adds P(next = j | {@code expert}) for the row's {@code width} most frequent successors only (ties:
     * lower id; the probability is still the cell over the whole row), in that order: the row as a
     * prediction table of that width holds it. Nothing for an expert never seen.
     */
    public void addTopRowProbabilities(int layer, int expert, int width, double[] into) {
        double total = rowTotals[layer][expert];
        if (total == 0) {
            return;
        }
        int[] top = new int[Math.min(width, experts)];
        int m = topSuccessors(layer, expert, top.length, top);
        double[] c = cells[layer];
        int base = expert * experts;
        for (int i = 0; i < m; i++) {
            into[top[i]] += c[base + top[i]] / total;
        }
    }

    /** The decayed counts of a layer, row-major E x E (row = the earlier expert); a copy. */
    public double[] counts(int layer) {
        double[] c = cells[layer].clone();
        if (weight != 1) {
            for (int i = 0; i < c.length; i++) {
                c[i] /= weight;
            }
        }
        return c;
    }

    /**
     * The decayed counts of one row into {@code into[0 .. experts)}: the same doubles as that row of
     * {@link #counts}, without copying the whole layer (a publication reads a 256 x 256 table row by row).
     */
    public void rowCounts(int layer, int from, double[] into) {
        System.arraycopy(cells[layer], from * experts, into, 0, experts);
        if (weight != 1) {
            for (int j = 0; j < experts; j++) {
                into[j] /= weight;
            }
        }
    }

    /** Share of a row's mass held by its {@code top} largest cells (Ob2's coverage); NaN for an empty row. */
    public double topShare(int layer, int expert, int top) {
        double[] row = Arrays.copyOfRange(cells[layer], expert * experts, (expert + 1) * experts);
        Arrays.sort(row);
        double total = 0;
        double topSum = 0;
        for (int m = 0; m < row.length; m++) {
            total += row[m];
            if (m >= row.length - top) {
                topSum += row[m];
            }
        }
        return total == 0 ? Double.NaN : topSum / total;
    }

    /** The {@code n} most frequent successors of {@code expert} (ties: lower id); fewer if fewer were seen. */
    public int[] successors(int layer, int expert, int n) {
        int[] out = new int[Math.min(n, experts)];
        return Arrays.copyOf(out, topSuccessors(layer, expert, out.length, out));
    }

    /**
     * The top-{@code n} successors of {@code from} at {@code layer} into {@code out}, most frequent
     * first (ties: lower id), only those seen; returns how many were written.
     */
    public int topSuccessors(int layer, int from, int n, int[] out) {
        if (n <= 0) {
            return 0;
        }
        double[] row = cells[layer];
        int base = from * experts;
        int kept = 0;
        for (int j = 0; j < experts; j++) {
            double c = row[base + j];
            if (c == 0) {
                continue;
            }
            int i;
            if (kept < n) {
                i = kept++;
            } else if (row[base + out[n - 1]] < c) {
                i = n - 1;
            } else {
                continue;
            }
            while (i > 0 && row[base + out[i - 1]] < c) {
                out[i] = out[i - 1];
                i--;
            }
            out[i] = j;
        }
        return kept;
    }

    /**
     * The paper's prediction for the next token at {@code layer}: the union of the top-{@code n}
     * rows of the experts marked in {@code selected}, marked into {@code predicted} (not cleared
     * first, so several tokens' predictions can be unioned). Returns how many new experts it marked.
     */
    public int predictInto(int layer, boolean[] selected, int n, boolean[] predicted) {
        int added = 0;
        int[] top = n <= topScratch.length ? topScratch : new int[n];
        for (int from = 0; from < experts; from++) {
            if (!selected[from]) {
                continue;
            }
            int m = topSuccessors(layer, from, n, top);
            for (int i = 0; i < m; i++) {
                if (!predicted[top[i]]) {
                    predicted[top[i]] = true;
                    added++;
                }
            }
        }
        return added;
    }

    /** Decayed total of the transitions recorded at {@code layer}. */
    public double total(int layer) {
        double sum = 0;
        for (double c : rowTotals[layer]) {
            sum += c;
        }
        return sum / weight;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TransitionHeatmap h) || h.layers != layers || h.experts != experts) {
            return false;
        }
        for (int l = 0; l < layers; l++) {
            if (!Arrays.equals(counts(l), h.counts(l))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(counts(0)) * 31 + layers;
    }
}
