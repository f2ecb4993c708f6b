package io.expertcast.core.predict;

/** Top-n of a score vector: highest score first, ties to the lower expert id (the same rule for every predictor). */
final class Ranking {
    private Ranking() {
    }

    /** The ids of the {@code n} best scores (fewer if the vector is shorter). */
    static int[] top(double[] scores, int n) {
        int m = Math.min(n, scores.length);
        if (m <= 0) {
            return new int[0];
        }
        int[] best = new int[m];
        topInto(scores, 0, scores.length, m, best, new double[m]);
        return best;
    }

    /**
     * {@link #top} without allocating: the ids of the {@code m} best of {@code scores[from .. from+length)}
     * (ids relative to {@code from}) into {@code best}, their scores into {@code bestScore}; m <= length.
     */
    static void topInto(double[] scores, int from, int length, int m, int[] best, double[] bestScore) {
        if (m <= 0) {
            return;
        }
        int filled = 0;
        double worst = 0; // bestScore[m - 1] once filled
        for (int e = 0; e < length; e++) {
            double s = scores[from + e];
            if (filled == m && s <= worst) {
                continue; // not better than the worst kept (ties keep the lower, earlier id)
            }
            int at = filled < m ? filled++ : m - 1;
            while (at > 0 && bestScore[at - 1] < s) {
                best[at] = best[at - 1];
                bestScore[at] = bestScore[at - 1];
                at--;
            }
            best[at] = e;
            bestScore[at] = s;
            worst = bestScore[m - 1];
        }
    }
}
