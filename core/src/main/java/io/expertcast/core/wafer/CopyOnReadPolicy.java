package io.expertcast.core.wafer;

/**
 * A work distribution plus the paper's predictor-driven copy-on-read (PDU/ATU): Pred Only is Base
 * with it, Allo+Pred is the allocator's plans with it. Which experts are copied, and into which
 * tier, is the engine run's input ({@link CopyEnable}): the predictor's commands, or the token-level
 * heatmap's forecast (HBM).
 */
public final class CopyOnReadPolicy implements Policy {
    private final String name;
    private final Policy work;

    public CopyOnReadPolicy(String name, Policy work) {
        this.name = name;
        this.work = work;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public LayerWork assign(PassWorkload pass, int moeLayer, WaferContext wafer) {
        return work.assign(pass, moeLayer, wafer);
    }

    @Override
    public boolean copyOnRead() {
        return true;
    }
}
