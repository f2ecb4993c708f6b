package io.expertcast.emulator.engine;

/**
 * The paper's Base: experts spread evenly, work spread evenly without regard to placement. Each
 * token is computed on the die it lives on (token i on die i mod dies), which reads every expert it
 * needs from the expert's home die.
 */
public final class BasePolicy implements Policy {
    @Override
    public String name() {
        return "base";
    }

    @Override
    public LayerWork assign(PassWorkload pass, int moeLayer, WaferContext wafer) {
        int dies = wafer.mesh().dies();
        LayerWork work = new LayerWork(dies, pass.model().numExperts());
        int k = pass.model().topK();
        for (int t = 0; t < pass.tokens(); t++) {
            for (int s = 0; s < k; s++) {
                work.add(t % dies, pass.expert(t, moeLayer, s), 1);
            }
        }
        return work;
    }
}
