package io.expertcast.core.analysis;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/** Spearman's rank correlation with average ranks for ties (Ob3). */
public final class RankCorrelation {
    private RankCorrelation() {
    }

    /**
     * Spearman's rho of two equally long vectors: Pearson's correlation of their average ranks.
     *
     * @return NaN when either vector is constant (the correlation is undefined)
     */
    public static double spearman(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("vectors of length " + a.length + " and " + b.length);
        }
        return pearson(averageRanks(a), averageRanks(b));
    }

    /** Ranks 1..n, tied values sharing the mean of the ranks they span. */
    static double[] averageRanks(double[] v) {
        double[] sorted = v.clone();
        for (double x : sorted) {
            if (Double.isNaN(x) || Double.doubleToRawLongBits(x) == Long.MIN_VALUE) {
                return averageRanksByIndex(v); // NaN and -0.0: == and the sort order disagree
            }
        }
        if (v.length <= INDEX_MASK + 1) {
            double[] counted = averageRanksOfCounts(v);
            if (counted != null) {
                return counted;
            }
        }
        // Without NaN and -0.0, equal values (==) are exactly the runs of the sorted copy: a value's rank is
        // the mean of its run's positions. A primitive sort: the live predictor ranks 58 x 2 vectors at every
        // request's end.
        Arrays.sort(sorted);
        double[] ranks = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            int first = firstAbove(sorted, v[i], false);
            int last = firstAbove(sorted, v[i], true) - 1;
            ranks[i] = (first + last) / 2.0 + 1;
        }
        return ranks;
    }

    private static final int INDEX_BITS = 24;
    private static final long INDEX_MASK = (1L << INDEX_BITS) - 1;
    private static final double COUNT_LIMIT = 0x1p39; // value << INDEX_BITS stays below 2^63

    /**
     * {@link #averageRanks} of counts (non-negative integers below 2^39; null otherwise), the predictor's case:
     * each value and its index packed in one long, one primitive sort, ranks read off the runs, instead of two
     * binary searches per value (unpredictable branches). The same ranks: equal values are the same runs.
     */
    private static double[] averageRanksOfCounts(double[] v) {
        long[] keyed = new long[v.length];
        long max = 0;
        for (int i = 0; i < v.length; i++) {
            double x = v[i];
            if (!(x >= 0 && x < COUNT_LIMIT) || x != Math.rint(x)) {
                return null;
            }
            keyed[i] = (long) x << INDEX_BITS | i;
            max = Math.max(max, (long) x);
        }
        if (max <= 4L * v.length + 64) {
            return averageRanksOfSmallCounts(v, (int) max);
        }
        Arrays.sort(keyed);
        double[] ranks = new double[v.length];
        int i = 0;
        while (i < keyed.length) {
            long value = keyed[i] >>> INDEX_BITS;
            int j = i;
            while (j + 1 < keyed.length && keyed[j + 1] >>> INDEX_BITS == value) {
                j++;
            }
            double rank = (i + j) / 2.0 + 1;
            for (int m = i; m <= j; m++) {
                ranks[(int) (keyed[m] & INDEX_MASK)] = rank;
            }
            i = j + 1;
        }
        return ranks;
    }

    /**
     * {@link #averageRanksOfCounts} of counts no larger than {@code max}, a few times their number (a request's
     * per-expert counts at its end: the live predictor ranks 58 x 2 such vectors then): counted, not sorted.
     * A count's run spans the positions from the number of smaller counts on, so its rank is the same
     * expression of the same integers as there.
     */
    private static double[] averageRanksOfSmallCounts(double[] v, int max) {
        int[] below = new int[max + 2]; // below[c + 1]: how many counts equal c, then how many are below c + 1
        for (double x : v) {
            below[(int) x + 1]++;
        }
        double[] rankOf = new double[max + 1];
        for (int c = 0; c <= max; c++) {
            int first = below[c];
            int last = first + below[c + 1] - 1;
            rankOf[c] = (first + last) / 2.0 + 1;
            below[c + 1] += first;
        }
        double[] ranks = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            ranks[i] = rankOf[(int) v[i]];
        }
        return ranks;
    }

    /** The first position of {@code sorted} holding a value >= x ({@code strictly}: > x); its length if none. */
    private static int firstAbove(double[] sorted, double x, boolean strictly) {
        int lo = 0;
        int hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < x || strictly && sorted[mid] == x) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** {@link #averageRanks} for any doubles: indices sorted by {@link Double#compare}, runs of == values tied. */
    static double[] averageRanksByIndex(double[] v) {
        Integer[] order = IntStream.range(0, v.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble(i -> v[i]));
        double[] ranks = new double[v.length];
        int i = 0;
        while (i < order.length) {
            int j = i;
            while (j + 1 < order.length && v[order[j + 1]] == v[order[i]]) {
                j++;
            }
            double rank = (i + j) / 2.0 + 1;
            for (int m = i; m <= j; m++) {
                ranks[order[m]] = rank;
            }
            i = j + 1;
        }
        return ranks;
    }

    private static double pearson(double[] x, double[] y) {
        int n = x.length;
        double mx = 0;
        double my = 0;
        for (int i = 0; i < n; i++) {
            mx += x[i];
            my += y[i];
        }
        mx /= n;
        my /= n;
        double sxy = 0;
        double sxx = 0;
        double syy = 0;
        for (int i = 0; i < n; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxx == 0 || syy == 0 ? Double.NaN : sxy / Math.sqrt(sxx * syy);
    }
}
