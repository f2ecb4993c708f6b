package io.expertcast.core.wafer;

/** The paper's EP: each expert's tokens all computed on its home die (no weight traffic, poor balance). */
public final class ExpertParallelPolicy implements Policy {
    @Override
    public String name() {
        return "ep";
    }

    @Override
    public LayerWork assign(PassWorkload pass, int moeLayer, WaferContext wafer) {
        int[] perExpert = pass.tokensPerExpert(moeLayer);
        LayerWork work = new LayerWork(wafer.mesh().dies(), perExpert.length);
        for (int e = 0; e < perExpert.length; e++) {
            if (perExpert[e] > 0) {
                work.add(wafer.table().homeDie(moeLayer, e), e, perExpert[e]);
            }
        }
        return work;
    }
}
