package io.expertcast.core.wafer;

/**
 * The paper's Base: experts spread evenly (the even table), work spread evenly without regard to
 * placement. The unit of work is an expert's task for the layer (its tokens, as in Algorithm 1),
 * and the tasks are dealt round-robin by expert id: expert e's task runs on die (e mod dies), whether
 * or not that die holds e (the table places experts in contiguous blocks, so on a 25-die wafer about
 * 24 of 25 tasks read their weights over the mesh). The mapping is the same every pass, so a die
 * that copied an expert on a remote read (Pred) finds the copy when it next computes that expert.
 *
 * <p>Why tasks and not tokens: a token-level even split (token i on die i mod dies) makes every die
 * read nearly every expert of every layer, a 24x weight traffic that puts Base about 100x below EP,
 * where the paper has it about 7x below Allo+Pred; see docs/reproduction.md.
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
        LayerWork work = new LayerWork(dies, perExpert.length);
        for (int e = 0; e < perExpert.length; e++) {
            if (perExpert[e] > 0) {
                work.add(e % dies, e, perExpert[e]);
            }
        }
        return work;
    }
}
