package io.expertcast.core.allocation;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import java.util.Arrays;
import java.util.List;

/**
 * The wafer emulator's time of one MoE layer for a plan, computed the way the emulator's
 * discrete-event engine computes it (wafer-emulator's {@code WaferEngine}; a test there checks the
 * two agree on random plans), so the allocator can judge a plan by what it will cost:
 * <ul>
 *   <li>every (die, expert) item issues one weight read at the layer start; the engine's events are
 *       ordered by (time, priority, issue order), and since a remote read's event fires hops x
 *       {@code hop_latency_ns} after the start, the order is: LLC hits and reads from the die's own
 *       HBM (home or copy) in (die, expert) order, then remote reads by hop count, each group in
 *       (die, expert) order. No queue is needed;</li>
 *   <li>a local read waits for the die's HBM port (busy-until), holds it for bytes / HBM bandwidth,
 *       after LLC hit + miss + HBM access latency;</li>
 *   <li>a remote read holds the nearest holder's HBM port (bytes / HBM bandwidth) and every link of
 *       the XY route (bytes / link bandwidth), starting when all are free, lasts the longer of the two
 *       and arrives hops x {@code hop_latency_ns} later;</li>
 *   <li>compute streams with the read on the die's compute engine (FIFO in the same order);</li>
 *   <li>the layer ends with the slowest die.</li>
 * </ul>
 * Copy-on-read writes (the Pred policies' PDU) are not modelled: which reads are copied is decided
 * by the emulator's copy policy, not by the plan. Resources start free at the layer start. Not
 * thread-safe (scratch arrays are reused).
 */
public final class LayerTimer {
    private final HardwareConfig hw;
    private final Mesh mesh;
    private final int dies;
    /** Directed link ids of the XY route from holder to reader, [holder x dies + reader]. */
    private final int[][] routes;
    private final double localLatencyNs;
    private final double[] hbmBusy;
    private final double[] computeBusy;
    private final double[] linkBusy;
    private final double[] dieEnd;
    private int[] remoteItem = new int[256];
    private int[] remoteHolder = new int[256];
    private final int[] hopCount;
    private final int[] hopStart;

    public LayerTimer(HardwareConfig hw) {
        this.hw = hw;
        this.mesh = Mesh.of(hw);
        this.dies = mesh.dies();
        this.routes = new int[dies * dies][];
        int maxHops = 0;
        for (int from = 0; from < dies; from++) {
            for (int to = 0; to < dies; to++) {
                routes[from * dies + to] = linkIds(mesh, from, to);
                maxHops = Math.max(maxHops, mesh.hops(from, to));
            }
        }
        this.localLatencyNs = hw.llcHitNs() + hw.llcMissExtraNs() + hw.hbmAccessNs();
        this.hbmBusy = new double[dies];
        this.computeBusy = new double[dies];
        this.linkBusy = new double[dies * 4];
        this.dieEnd = new double[dies];
        this.hopCount = new int[maxHops + 2];
        this.hopStart = new int[maxHops + 2];
    }

    /** Directed link ids (die x 4 + E, W, S, N) of the XY route, as the emulator numbers them. */
    static int[] linkIds(Mesh mesh, int from, int to) {
        List<Integer> path = mesh.xyRoute(from, to);
        int[] r = new int[path.size() - 1];
        for (int i = 0; i + 1 < path.size(); i++) {
            int a = path.get(i);
            int b = path.get(i + 1);
            int dir = b == a + 1 ? 0 : b == a - 1 ? 1 : b > a ? 2 : 3;
            r[i] = a * 4 + dir;
        }
        return r;
    }

    /** The directed link id from {@code from} to its neighbour {@code to}. */
    int link(int from, int to) {
        return routes[from * dies + to][0];
    }

    public Mesh mesh() {
        return mesh;
    }

    /**
     * The layer time, in ns from the layer start, of {@code n} items sorted by (die, expert), each a
     * die computing {@code tokens} tokens of an expert; fills {@code dieNs} (length = dies) with each
     * die's finishing time when not null.
     *
     * @param hbmCopies dies whose HBM holds a copy of the expert besides the table (the emulator's
     *                  copy-on-read copies); {@link LlcResidency#NONE} when none
     */
    public double time(ModelShape model, ExpertDistributionTable table, int layer, int n, int[] itemDie,
                       int[] itemExpert, int[] itemTokens, LlcResidency llc, LlcResidency hbmCopies, double[] dieNs) {
        long bytes = model.expertBytes();
        double readNs = bytes / hw.hbmBytesPerS() * 1e9;
        double linkNs = bytes / hw.linkBytesPerS() * 1e9;
        double flopsNsPerToken = model.flopsPerToken() / hw.peakFlopsPerS() * 1e9;
        boolean llcFits = hw.llcBytes() / bytes > 0;
        Arrays.fill(hbmBusy, 0);
        Arrays.fill(computeBusy, 0);
        Arrays.fill(linkBusy, 0);
        Arrays.fill(dieEnd, 0);
        Arrays.fill(hopCount, 0);
        if (remoteItem.length < n) {
            remoteItem = new int[Math.max(n, 2 * remoteItem.length)];
            remoteHolder = new int[remoteItem.length];
        }
        // Local and LLC reads at the start, in issue order; remote ones are counted per hop count.
        int remote = 0;
        for (int i = 0; i < n; i++) {
            int d = itemDie[i];
            int e = itemExpert[i];
            if (llcFits && llc != LlcResidency.NONE && llc.cached(layer, e, d)) {
                finish(d, itemTokens[i], flopsNsPerToken, hw.llcHitNs(), hw.llcHitNs() + readNs);
            } else if (table.holds(layer, e, d) || (hbmCopies != LlcResidency.NONE && hbmCopies.cached(layer, e, d))) {
                double start = Math.max(localLatencyNs, hbmBusy[d]);
                hbmBusy[d] = start + readNs;
                finish(d, itemTokens[i], flopsNsPerToken, start, start + readNs);
            } else {
                int holder = table.nearestHolder(layer, e, d, mesh);
                remoteItem[remote] = i;
                remoteHolder[remote] = holder;
                remote++;
                hopCount[mesh.hops(d, holder)]++;
            }
        }
        if (remote > 0) {
            // Remote reads by hop count (the event time), each group in issue order: a stable counting sort.
            int[] order = new int[remote];
            for (int h = 0, at = 0; h < hopCount.length; h++) {
                hopStart[h] = at;
                at += hopCount[h];
            }
            for (int r = 0; r < remote; r++) {
                int i = remoteItem[r];
                order[hopStart[mesh.hops(itemDie[i], remoteHolder[r])]++] = r;
            }
            double hop = hw.hopLatencyNs();
            for (int r : order) {
                int i = remoteItem[r];
                int d = itemDie[i];
                int holder = remoteHolder[r];
                int[] route = routes[holder * dies + d];
                double start = Math.max(route.length * hop + localLatencyNs, hbmBusy[holder]);
                for (int link : route) {
                    start = Math.max(start, linkBusy[link]);
                }
                double end = start + Math.max(readNs, linkNs);
                hbmBusy[holder] = start + readNs;
                for (int link : route) {
                    linkBusy[link] = start + linkNs;
                }
                double flight = route.length * hop;
                finish(d, itemTokens[i], flopsNsPerToken, start + flight, end + flight);
            }
        }
        double slowest = 0;
        for (int d = 0; d < dies; d++) {
            slowest = Math.max(slowest, dieEnd[d]);
        }
        if (dieNs != null) {
            System.arraycopy(dieEnd, 0, dieNs, 0, dies);
        }
        return slowest;
    }

    /** The emulator's time of a plan's layer (rows in any order), no LLC hits nor copies. */
    public double time(ModelShape model, ExpertDistributionTable table, int layer, AllocationResult plan) {
        int n = plan.size();
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            keys[i] = ((long) plan.die(i) * model.numExperts() + plan.expert(i)) << 32 | i;
        }
        Arrays.sort(keys); // the emulator's issue order: (die, expert)
        int[] dies = new int[n];
        int[] experts = new int[n];
        int[] tokens = new int[n];
        for (int j = 0; j < n; j++) {
            int i = (int) keys[j];
            dies[j] = plan.die(i);
            experts[j] = plan.expert(i);
            tokens[j] = plan.tokens(i);
        }
        return time(model, table, layer, n, dies, experts, tokens, LlcResidency.NONE, LlcResidency.NONE, null);
    }

    private void finish(int d, int tokens, double flopsNsPerToken, double readStart, double readEnd) {
        double start = Math.max(readStart, computeBusy[d]);
        computeBusy[d] = start + tokens * flopsNsPerToken;
        double end = Math.max(readEnd, computeBusy[d]);
        if (end > dieEnd[d]) {
            dieEnd[d] = end;
        }
    }
}
