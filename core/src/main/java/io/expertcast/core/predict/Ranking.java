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
        double[] bestScore = new double[m];
        int filled = 0;
        for (int e = 0; e < scores.length; e++) {
            double s = scores[e];
            if (filled == m && s <= bestScore[m - 1]) {
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
        }
        return best;
    }
}
