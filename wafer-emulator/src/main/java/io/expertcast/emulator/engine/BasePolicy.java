package io.expertcast.emulator.engine;

/**
 * The paper's Base: experts spread evenly (the even table), work spread evenly without regard to
 * placement. The unit of work is an expert's task for the layer (its tokens, as in Algorithm 1):
 * tasks are dealt out largest first, each to the die with the fewest tokens so far (ties: lower
 * die id; largest-processing-time-first list scheduling), whether or not that die holds the
 * expert, so on a 25-die wafer about 24 of 25 tasks read their weights over the mesh.
 *
 * <p>Why tasks and not tokens: a token-level even split (token i on die i mod dies) makes every die
 * read nearly every expert of every layer (a 24x weight traffic the paper's Base does not show:
 * it puts Base about 7x below Allo+Pred, not 100x); see docs/reproduction.md.
 */
public final class BasePolicy implements Policy {
    @Override
    public String name() {
        return "base";
    }

    @Override
    public LayerWork assign(PassWorkload pass, int moeLayer, WaferContext wafer) {
        int dies = wafer.mesh().dies();
        int[] perExpert = pass.tokensPerExpert(moeLayer);
        int experts = perExpert.length;
        LayerWork work = new LayerWork(dies, experts);
        // order: tokens descending, then expert id ascending (packed so one sort does it)
        long[] order = new long[experts];
        int n = 0;
        for (int e = 0; e < experts; e++) {
            if (perExpert[e] > 0) {
                order[n++] = ((long) (Integer.MAX_VALUE - perExpert[e]) << 32) | e;
            }
        }
        java.util.Arrays.sort(order, 0, n);
        long[] load = new long[dies];
        for (int i = 0; i < n; i++) {
            int e = (int) order[i];
            int best = 0;
            for (int d = 1; d < dies; d++) {
                if (load[d] < load[best]) {
                    best = d;
                }
            }
            load[best] += perExpert[e];
            work.add(best, e, perExpert[e]);
        }
        return work;
    }
}
