package io.expertcast.core.hardware;

import io.expertcast.core.model.ModelShape;

/**
 * Time, in ns, of an expert's work on one die: shared by the allocator's cost (Algorithm 1) and
 * the emulator, so the controller plans with the machine it is judged on.
 * <ul>
 *   <li>compute: roofline over the expert's three GEMMs for {@code tokens} tokens:
 *       max(FLOPs / peak, weight bytes / HBM bandwidth) (weights are streamed once per expert);</li>
 *   <li>remote weights: hops x per-hop latency + bytes / link bandwidth (one XY route, no contention);</li>
 *   <li>activations: tokens x hidden x 2 bytes moved over the mesh when the work is not on the token's die.</li>
 * </ul>
 */
public final class DieCostModel {
    private final HardwareConfig hw;

    public DieCostModel(HardwareConfig hw) {
        this.hw = hw;
    }

    public HardwareConfig hardware() {
        return hw;
    }

    /** Roofline time of {@code tokens} tokens through one expert whose weights are in local memory. */
    public double computeNs(ModelShape model, int tokens) {
        if (tokens <= 0) {
            return 0;
        }
        double flopsNs = model.flopsPerToken() * tokens / hw.peakFlopsPerS() * 1e9;
        double memoryNs = model.expertBytes() / hw.hbmBytesPerS() * 1e9;
        return Math.max(flopsNs, memoryNs);
    }

    /** Time to bring an expert's weights over {@code hops} D2D hops (0 hops: local, no transfer). */
    public double weightTransferNs(ModelShape model, int hops) {
        if (hops <= 0) {
            return 0;
        }
        return hops * hw.hopLatencyNs() + model.expertBytes() / hw.linkBytesPerS() * 1e9;
    }

    /**
     * Latency of starting to read an expert's weights that are already on the die: the local HBM access
     * (Table I: 300 ns), or the LLC hit (100 ns) when a copy sits in the die's LLC. The bytes themselves
     * are in {@link #computeNs}'s memory term.
     */
    public double localWeightAccessNs(boolean inLlc) {
        return inLlc ? hw.llcHitNs() : hw.hbmAccessNs();
    }

    /**
     * Dispatch and combine of {@code tokens} tokens computed on a die whose tokens come evenly from
     * every die of the mesh (data-parallel attention): the farthest-average route's latency
     * ({@code meanHops} x per-hop latency) once, plus the BF16 hidden vectors there and back over the
     * die's {@code links} links, minus the share that is already on the die.
     */
    public double activationExchangeNs(ModelShape model, int tokens, double meanHops, int links, int dies) {
        if (tokens <= 0 || dies <= 1) {
            return 0;
        }
        return meanHops * hw.hopLatencyNs() + activationExchangeNsPerToken(model, links, dies) * tokens;
    }

    /** The bandwidth part of {@link #activationExchangeNs} per token. */
    public double activationExchangeNsPerToken(ModelShape model, int links, int dies) {
        if (dies <= 1 || links <= 0) {
            return 0;
        }
        double bytes = 2.0 * model.hiddenSize() * 2 * (dies - 1) / dies; // there and back, BF16
        return bytes / (links * hw.linkBytesPerS()) * 1e9;
    }

    /** Time to move {@code tokens} tokens' activations (BF16 hidden vectors) over {@code hops} hops. */
    public double activationTransferNs(ModelShape model, int tokens, int hops) {
        if (hops <= 0 || tokens <= 0) {
            return 0;
        }
        return hops * hw.hopLatencyNs() + (double) tokens * model.hiddenSize() * 2 / hw.linkBytesPerS() * 1e9;
    }
}
