package io.expertcast.core.predict;

/**
 * Global popularity of one MoE layer (finished requests' selections per expert) with its total summed
 * once, for {@link NextTokenPredictor}: counts are integers, and a sum of integers below 2^53 is exact
 * in any order, so the total of popularity + a request's own counts is this total + the request's, with
 * no pass over the experts. Read-only: shared by threads.
 */
public final class LayerPopularity {
    private static final double EXACT_LIMIT = 0x1p53;

    private final double[] counts;
    private final double total;
    private final boolean integral;
    private final boolean nonNegative;

    /** Wraps (does not copy) {@code counts}, which must not change afterwards. */
    public LayerPopularity(double[] counts) {
        this.counts = counts;
        double sum = 0;
        boolean whole = true;
        boolean finite = true;
        for (double c : counts) {
            sum += c;
            whole &= c >= 0 && c == Math.rint(c);
            finite &= c >= 0 && c < Double.POSITIVE_INFINITY;
        }
        this.total = sum;
        this.integral = whole && sum < EXACT_LIMIT;
        this.nonNegative = finite && sum < Double.POSITIVE_INFINITY;
    }

    /**
     * Whether every count is a finite number >= 0 (-0.0 included) and so is the total: then every blended
     * score built from them is a finite double >= +0.0, which {@link NextTokenPredictor} ranks on the doubles.
     */
    boolean nonNegative() {
        return nonNegative;
    }

    /** The counts, shared: callers must not modify them. */
    public double[] counts() {
        return counts;
    }

    /** The counts summed in expert order. */
    public double total() {
        return total;
    }

    /**
     * Whether every count is a non-negative integer and their total below 2^53: then every partial
     * sum, in any order, is an exact integer.
     */
    boolean integral() {
        return integral;
    }

    /**
     * Whether every partial sum of (popularity + a request's own non-negative integer counts, summing to
     * {@code own}) is exact, so the sum in expert order is {@code total + own}: a result below 2^53
     * (a true sum at or above 2^53 rounds to at least 2^53, so the test cannot pass by rounding).
     */
    boolean exactWith(long own) {
        return integral && own >= 0 && total + own < EXACT_LIMIT;
    }
}
