package io.expertcast.core.allocation;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;

/**
 * A lower bound on one MoE layer's time on the emulated wafer that no assignment of the layer's
 * tokens to dies can beat, for the given placement, hardware and cache contents at the layer start
 * (proof in docs/reproduction.md, "The lower bound"). The relaxation keeps three constraints of the
 * emulator and drops everything else (link contention, the FIFO order, latencies past the first):
 * <ol>
 *   <li>read: every item reads the expert's whole weights once, which lasts at least R = bytes / HBM
 *       bandwidth from its start, and no read starts before m (m = LLC hit latency if the LLC can hold
 *       an expert, else the local read latency L = LLC hit + miss + HBM access): T >= m + R;</li>
 *   <li>compute: all the layer's token-expert work C = sum(tokens) x FLOPs/token / peak must run on
 *       the D compute engines, none before m, split freely (fractionally) over dies: T >= m + C / D;</li>
 *   <li>forced HBM reads: an expert with work that only die d holds in HBM (table or copy) and no die
 *       holds in LLC is read at least once through d's HBM port, which serves one read at a time, each
 *       R long, none before L: T >= L + F_d x R for every die d (F_d = such experts of d).</li>
 * </ol>
 * T = max of the three. Not thread-safe.
 */
public final class LayerLowerBound {
    private final HardwareConfig hw;
    private final int dies;
    private final int[] forced;
    private final int[] holders;

    public LayerLowerBound(HardwareConfig hw) {
        this.hw = hw;
        this.dies = hw.dies();
        this.forced = new int[dies];
        this.holders = new int[dies];
    }

    /**
     * The bound, in ns from the layer start.
     *
     * @param llc       which dies hold which experts in LLC now ({@link LlcResidency#NONE}: none)
     * @param hbmCopies which dies hold copies besides the table ({@link LlcResidency#NONE}: none)
     */
    public double boundNs(ModelShape model, ExpertDistributionTable table, int layer, int[] tokensPerExpert,
                          LlcResidency llc, LlcResidency hbmCopies) {
        long bytes = model.expertBytes();
        double readNs = bytes / hw.hbmBytesPerS() * 1e9;
        double f = model.flopsPerToken() / hw.peakFlopsPerS() * 1e9;
        double local = hw.llcHitNs() + hw.llcMissExtraNs() + hw.hbmAccessNs();
        boolean llcFits = hw.llcBytes() / bytes > 0 && llc != LlcResidency.NONE;
        double first = llcFits ? Math.min(hw.llcHitNs(), local) : local;
        java.util.Arrays.fill(forced, 0);
        long work = 0;
        for (int e = 0; e < tokensPerExpert.length; e++) {
            int t = tokensPerExpert[e];
            if (t <= 0) {
                continue;
            }
            work += t;
            if (table.copies(layer, e) != 1) {
                continue;
            }
            int only = table.holders(layer, e, holders) == 1 ? holders[0] : -1;
            boolean elsewhere = false;
            for (int d = 0; d < dies && !elsewhere; d++) {
                elsewhere = (llcFits && llc.cached(layer, e, d))
                        || (d != only && hbmCopies != LlcResidency.NONE && hbmCopies.cached(layer, e, d));
            }
            if (!elsewhere) {
                forced[only]++;
            }
        }
        if (work == 0) {
            return 0;
        }
        double bound = Math.max(first + readNs, first + work * f / dies);
        for (int d = 0; d < dies; d++) {
            bound = Math.max(bound, local + forced[d] * readNs);
        }
        return bound;
    }
}
