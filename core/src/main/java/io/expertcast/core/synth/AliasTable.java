package io.expertcast.core.synth;

import java.util.SplittableRandom;

/** Walker's alias method: O(1) draws from a fixed discrete distribution over 0..n-1. */
final class AliasTable {
    private final double[] probability;
    private final int[] alias;
    private final int[] values;

    /** A distribution over {@code values} with the given (not necessarily normalised) weights. */
    AliasTable(int[] values, double[] weights) {
        int n = weights.length;
        if (n == 0 || values.length != n) {
            throw new IllegalArgumentException("need as many values as weights, at least one");
        }
        this.values = values.clone();
        probability = new double[n];
        alias = new int[n];
        double sum = 0;
        for (double w : weights) {
            sum += w;
        }
        double[] scaled = new double[n];
        int[] small = new int[n];
        int[] large = new int[n];
        int s = 0;
        int l = 0;
        for (int i = 0; i < n; i++) {
            scaled[i] = weights[i] * n / sum;
            if (scaled[i] < 1) {
                small[s++] = i;
            } else {
                large[l++] = i;
            }
        }
        while (s > 0 && l > 0) {
            int less = small[--s];
            int more = large[--l];
            probability[less] = scaled[less];
            alias[less] = more;
            scaled[more] = scaled[more] + scaled[less] - 1;
            if (scaled[more] < 1) {
                small[s++] = more;
            } else {
                large[l++] = more;
            }
        }
        while (l > 0) {
            probability[large[--l]] = 1;
        }
        while (s > 0) {
            probability[small[--s]] = 1;
        }
    }

    int sample(SplittableRandom random) {
        int i = random.nextInt(probability.length);
        return values[random.nextDouble() < probability[i] ? i : alias[i]];
    }
}
