package io.expertcast.emulator.engine;

import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.model.ModelShape;

/**
 * Analytical per-layer model of the wafer (paper case study): a die's time for a layer is the sum
 * over the experts it computes of (weight transfer from the nearest holder: hops x per-hop latency
 * + bytes / link bandwidth, zero when local) + (roofline compute of its tokens); the layer takes as
 * long as its slowest die. Every die reads an expert's weights once per layer. Link contention, the
 * LLC and a discrete-event core are the emulator issue's; this engine is deterministic and exact
 * for what it models.
 */
public final class WaferEngine {
    private WaferEngine() {
    }

    public static PassResult run(PassWorkload pass, Policy policy, WaferContext wafer) {
        ModelShape model = pass.model();
        DieCostModel cost = wafer.cost();
        int layers = model.numMoeLayers();
        double[] layerNs = new double[layers];
        long hops = 0;
        long local = 0;
        long remote = 0;
        for (int layer = 0; layer < layers; layer++) {
            LayerWork work = policy.assign(pass, layer, wafer);
            double slowest = 0;
            for (int die = 0; die < work.dies(); die++) {
                double dieNs = 0;
                for (int e = 0; e < work.experts(); e++) {
                    int tokens = work.tokens(die, e);
                    if (tokens == 0) {
                        continue;
                    }
                    int holder = wafer.table().nearestHolder(layer, e, die, wafer.mesh());
                    int h = wafer.mesh().hops(die, holder);
                    if (h == 0) {
                        local++;
                    } else {
                        remote++;
                        hops += h;
                    }
                    dieNs += cost.weightTransferNs(model, h) + cost.computeNs(model, tokens);
                }
                slowest = Math.max(slowest, dieNs);
            }
            layerNs[layer] = slowest;
        }
        return new PassResult(policy.name(), pass.tokens(), layerNs, hops, local, remote);
    }
}
