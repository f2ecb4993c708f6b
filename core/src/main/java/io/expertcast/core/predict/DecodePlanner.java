package io.expertcast.core.predict;

/**
 * Plans a request's decode phase from its prefill (Insight 1; Ob3: the top-5/10/20 prefill experts
 * cover about 60/75/90 % of the decode top lists): per MoE layer, the n experts the most prefill
 * tokens selected, ties broken towards the lower expert id. Experts no prefill token selected are
 * never planned, so a layer with fewer than n non-zero experts plans only those (prefetching an
 * expert with no evidence would only cost bandwidth).
 */
public final class DecodePlanner {
    private final int n;

    public DecodePlanner(int n) {
        if (n <= 0) {
            throw new IllegalArgumentException("n must be positive, got " + n);
        }
        this.n = n;
    }

    public int n() {
        return n;
    }

    public DecodePlan plan(PrefillHeatmap heatmap) {
        int layers = heatmap.numMoeLayers();
        int numExperts = heatmap.numExperts();
        int[][] experts = new int[layers][];
        int[][] scores = new int[layers][];
        for (int layer = 0; layer < layers; layer++) {
            // Partial selection sort over at most n picks: n is small (default 8), E up to 384.
            int[] chosenExperts = new int[Math.min(n, numExperts)];
            int[] chosenScores = new int[chosenExperts.length];
            boolean[] taken = new boolean[numExperts];
            int picked = 0;
            while (picked < chosenExperts.length) {
                int best = -1;
                int bestCount = 0;
                for (int e = 0; e < numExperts; e++) {
                    int c = heatmap.count(layer, e);
                    if (!taken[e] && c > bestCount) { // strict: the lower id wins a tie
                        best = e;
                        bestCount = c;
                    }
                }
                if (best < 0) {
                    break;
                }
                taken[best] = true;
                chosenExperts[picked] = best;
                chosenScores[picked] = bestCount;
                picked++;
            }
            experts[layer] = java.util.Arrays.copyOf(chosenExperts, picked);
            scores[layer] = java.util.Arrays.copyOf(chosenScores, picked);
        }
        return new DecodePlan(n, heatmap.topK(), experts, scores);
    }
}
