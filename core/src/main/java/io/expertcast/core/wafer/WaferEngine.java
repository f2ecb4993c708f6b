package io.expertcast.core.wafer;

import io.expertcast.core.allocation.LayerLowerBound;
import io.expertcast.core.allocation.LlcResidency;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;

/**
 * Discrete-event model of the wafer (paper case study, Table I) running one model's MoE layers
 * under one policy. Stateful across passes: resource clocks and the dies' LLC and HBM copies carry
 * over, as on the machine. Simple enough to check by hand (style.md, ASTRA-sim):
 * <ul>
 *   <li>Resources are FIFOs with a busy-until time: each die's HBM port (bandwidth {@code hbm_bytes_per_s}),
 *       each die's compute engine (peak FLOP/s), each directed D2D link (bandwidth {@code link_bytes_per_s}).</li>
 *   <li>Per layer every die issues, at the layer's start t0, one weight read per expert it computes
 *       (dies in id order, experts in id order). The read is served by the die's LLC (latency
 *       {@code llc_hit_ns}), its own HBM as a holder or a copy (LLC miss: hit + miss + HBM access
 *       latency, then bytes / HBM bandwidth on its HBM port), or the nearest holder in the Expert
 *       Distribution Table over the XY route: the 16 B command reaches the holder after hops x
 *       {@code hop_latency_ns}; the stream starts when the holder's HBM port and every link of the
 *       route are free (cut-through), holds the port for bytes / HBM bandwidth and each link for
 *       bytes / link bandwidth, lasts the longer of the two, and arrives hops x
 *       {@code hop_latency_ns} after it leaves.</li>
 *   <li>Compute streams with the read (roofline): it starts when the data starts to arrive and the
 *       die's compute engine is free, takes tokens x FLOPs / peak, and the item ends when both the
 *       read and the compute are done.</li>
 *   <li>The LLC is memory-side: it keeps what the die reads from its own HBM (home experts and
 *       copies); a remote read passes through without being kept, unless copy-enabled.</li>
 *   <li>Copy-on-read (the PDU's cp_en, Pred policies, {@link CopyEnable}): a remote read of an expert
 *       enabled for the HBM tier is written into the reading die's HBM (one HBM-port write, while the
 *       HBM left after the home experts has room: see {@link ExpertLru}), so later reads are local
 *       copy reads (the ATU's redirect); one enabled for the LLC tier is kept in the reader's LLC
 *       (least recently used; no HBM-port time), so later reads hit it while it stays.</li>
 *   <li>The layer ends when the slowest die's last item ends (the paper's per-layer time); the next
 *       layer starts then. Events are ordered by (time, priority, sequence): local and LLC reads,
 *       then remote reads, then copy writes at equal times, each in the order issued.</li>
 * </ul>
 * What it leaves out, on purpose: activations moving between dies (the paper's hop count is of
 * weight transfers), attention and dense layers, and HBM write/read interference beyond the FIFO.
 */
public final class WaferEngine {
    private static final int LOCAL = 0;
    private static final int LLC = 1;
    private static final int REMOTE = 2;
    private static final int COPY = 3;

    private final WaferContext wafer;
    private final ModelShape model;
    private final HardwareConfig hw;
    private final Mesh mesh;
    private final ExpertDistributionTable table;
    private final int dies;
    private final int experts;
    private final double readNs;        // one expert's weights at HBM bandwidth
    private final double linkNs;        // one expert's weights over one link
    private final double flopsNsPerToken;
    private final double localLatencyNs;
    private final int[][] routes;       // (src x dies + dst) -> directed link ids, filled on first use

    private final double[] hbmBusy;
    private final double[] computeBusy;
    private final double[] linkBusy;
    private final long[] linkBytes;
    private final ExpertLru[] llc;
    private final ExpertLru[] copies;
    private double clock;
    private long enabledRemoteReads;    // remote reads of copy-enabled experts, since the engine started
    private long enabledDieLayers;      // (die, layer) pairs of a pass with such a read, since the start
    private long enabledDiePasses;      // (die, pass) pairs with such a read, since the start
    private final boolean[] enabledInLayer;
    private final boolean[] enabledInPass;
    private final EventQueue queue = new EventQueue();
    private final LayerLowerBound lowerBound;
    private final int[] layerTokens;
    private final LlcResidency llcNow;
    private final LlcResidency copiesNow;

    // per-layer items
    private int[] itemDie = new int[1024];
    private int[] itemExpert = new int[1024];
    private int[] itemTokens = new int[1024];
    private int[] itemHolder = new int[1024];
    private final double[] dieEnd;

    public WaferEngine(WaferContext wafer, ModelShape model) {
        this.wafer = wafer;
        this.model = model;
        this.hw = wafer.hardware();
        this.mesh = wafer.mesh();
        this.table = wafer.table();
        this.dies = mesh.dies();
        this.experts = model.numExperts();
        long bytes = model.expertBytes();
        this.readNs = bytes / hw.hbmBytesPerS() * 1e9;
        this.linkNs = bytes / hw.linkBytesPerS() * 1e9;
        this.flopsNsPerToken = model.flopsPerToken() / hw.peakFlopsPerS() * 1e9;
        this.localLatencyNs = hw.llcHitNs() + hw.llcMissExtraNs() + hw.hbmAccessNs();
        this.routes = new int[dies * dies][];
        this.hbmBusy = new double[dies];
        this.computeBusy = new double[dies];
        this.linkBusy = new double[dies * 4];
        this.linkBytes = new long[dies * 4];
        this.dieEnd = new double[dies];
        this.enabledInLayer = new boolean[dies];
        this.enabledInPass = new boolean[dies];
        this.lowerBound = new LayerLowerBound(hw);
        this.layerTokens = new int[experts];
        int keys = model.numMoeLayers() * experts;
        long[] homeBytes = new long[dies];
        for (int l = 0; l < model.numMoeLayers(); l++) {
            for (int e = 0; e < experts; e++) {
                for (int d : table.holders(l, e)) {
                    homeBytes[d] += bytes;
                }
            }
        }
        this.llc = new ExpertLru[dies];
        this.copies = new ExpertLru[dies];
        for (int d = 0; d < dies; d++) {
            long free = hw.usableHbmBytes() - homeBytes[d];
            if (free < 0) {
                throw new IllegalArgumentException(model.id() + " does not fit on " + hw.name() + ": die " + d
                        + " holds " + homeBytes[d] / 1_000_000_000.0 + " GB of experts, "
                        + hw.usableHbmBytes() / 1_000_000_000.0 + " GB of HBM usable (set a smaller --bytes-per-param)");
            }
            llc[d] = new ExpertLru(keys, hw.llcBytes() / bytes, true);
            copies[d] = new ExpertLru(keys, free / bytes, false);
        }
        ExpertLru[] llcs = llc;
        ExpertLru[] copyPools = copies;
        this.llcNow = (l, e, d) -> llcs[d].contains(l * experts + e);
        this.copiesNow = (l, e, d) -> copyPools[d].contains(l * experts + e);
    }

    public ModelShape model() { return model; }
    public WaferContext wafer() { return wafer; }

    /** Expert copies each die's HBM can take besides its home experts. */
    public int copyCapacity(int die) {
        return copies[die].capacity();
    }

    /** Whether {@code die}'s HBM holds a copy of the expert written on a remote read (copy-on-read). */
    public boolean hbmCopy(int die, int moeLayer, int expert) {
        return copies[die].contains(moeLayer * experts + expert);
    }

    /** Cumulative bytes per directed link since the engine started (index die x 4 + E, W, S, N). */
    public long[] linkBytes() {
        return linkBytes.clone();
    }

    /**
     * Remote reads of a copy-enabled expert since the engine started (copy-on-read policies): the
     * (die, layer, expert) entries a per-die command would carry, since a die copies only what it reads
     * remotely. Not part of the exported state.
     */
    public long enabledRemoteReads() {
        return enabledRemoteReads;
    }

    /** The (die, MoE layer) pairs of each pass with at least one {@link #enabledRemoteReads} read, summed over passes. */
    public long enabledDieLayers() {
        return enabledDieLayers;
    }

    /** The (die, pass) pairs with at least one {@link #enabledRemoteReads} read: the per-die commands that carry something. */
    public long enabledDiePasses() {
        return enabledDiePasses;
    }

    /** Whether {@code die}'s LLC holds the expert now. */
    public boolean llcHolds(int die, int moeLayer, int expert) {
        return llc[die].contains(moeLayer * experts + expert);
    }

    /**
     * Runs one pass. {@code copy} says which remote reads are copied and into which tier (used only
     * when {@code policy.copyOnRead()}; may be null otherwise).
     */
    public PassResult run(PassWorkload pass, Policy policy, CopyEnable copy) {
        int layers = model.numMoeLayers();
        double[] layerNs = new double[layers];
        long[] bytesBefore = linkBytes.clone();
        boolean copyOnRead = policy.copyOnRead() && copy != null;
        double meanDieNs = 0;
        double boundNs = 0;
        long hops = 0, reads = 0, local = 0, remote = 0, copyReads = 0, copyWrites = 0, llcHits = 0, events = 0;
        long bytes = model.expertBytes();
        java.util.Arrays.fill(enabledInPass, false);
        for (int layer = 0; layer < layers; layer++) {
            LayerWork work = policy.assign(pass, layer, wafer);
            double t0 = clock;
            // The layer's lower bound for this wafer's caches now, before the reads below touch them.
            java.util.Arrays.fill(layerTokens, 0);
            boolean anyLlc = false;
            boolean anyCopy = false;
            for (int d = 0; d < dies; d++) {
                anyLlc |= llc[d].size() > 0;
                anyCopy |= copies[d].size() > 0;
                for (int e = 0; e < experts; e++) {
                    layerTokens[e] += work.tokens(d, e);
                }
            }
            boundNs += lowerBound.boundNs(model, table, layer, layerTokens, anyLlc ? llcNow : LlcResidency.NONE,
                    anyCopy ? copiesNow : LlcResidency.NONE);
            int n = 0;
            java.util.Arrays.fill(enabledInLayer, false);
            for (int d = 0; d < dies; d++) {
                dieEnd[d] = t0;
                for (int e = 0; e < experts; e++) {
                    int tokens = work.tokens(d, e);
                    if (tokens == 0) {
                        continue;
                    }
                    if (n == itemDie.length) {
                        grow();
                    }
                    itemDie[n] = d;
                    itemExpert[n] = e;
                    itemTokens[n] = tokens;
                    itemHolder[n] = d;
                    reads++;
                    int key = layer * experts + e;
                    if (llc[d].touch(key)) {
                        llcHits++;
                        queue.schedule(t0, 0, LLC, n);
                    } else if (table.holds(layer, e, d)) {
                        local++;
                        queue.schedule(t0, 0, LOCAL, n);
                    } else if (copies[d].touch(key)) {
                        copyReads++;
                        queue.schedule(t0, 0, LOCAL, n);
                    } else {
                        int holder = table.nearestHolder(layer, e, d, mesh);
                        int h = mesh.hops(d, holder);
                        itemHolder[n] = holder;
                        remote++;
                        hops += h;
                        if (copyOnRead && copy.any(layer, e)) {
                            enabledRemoteReads++;
                            if (!enabledInLayer[d]) {
                                enabledInLayer[d] = true;
                                enabledDieLayers++;
                            }
                            if (!enabledInPass[d]) {
                                enabledInPass[d] = true;
                                enabledDiePasses++;
                            }
                        }
                        queue.schedule(t0 + h * hw.hopLatencyNs(), 1, REMOTE, n);
                    }
                    n++;
                }
            }
            while (!queue.isEmpty()) {
                queue.pop();
                events++;
                double t = queue.time();
                int i = queue.payload();
                int d = itemDie[i];
                int key = layer * experts + itemExpert[i];
                switch (queue.kind()) {
                    case LLC -> finish(i, t + hw.llcHitNs(), t + hw.llcHitNs() + readNs);
                    case LOCAL -> {
                        double start = Math.max(t + localLatencyNs, hbmBusy[d]);
                        hbmBusy[d] = start + readNs;
                        llc[d].insert(key);
                        finish(i, start, start + readNs);
                    }
                    case REMOTE -> {
                        int holder = itemHolder[i];
                        int[] route = route(holder, d);
                        double start = Math.max(t + localLatencyNs, hbmBusy[holder]);
                        for (int link : route) {
                            start = Math.max(start, linkBusy[link]);
                        }
                        double end = start + Math.max(readNs, linkNs);
                        hbmBusy[holder] = start + readNs;
                        for (int link : route) {
                            linkBusy[link] = start + linkNs;
                            linkBytes[link] += bytes;
                        }
                        int[] back = route(d, holder);
                        for (int link : back) {
                            linkBytes[link] += hw.commandBytes();
                        }
                        double flight = route.length * hw.hopLatencyNs();
                        finish(i, start + flight, end + flight);
                        if (copyOnRead && copy.any(layer, itemExpert[i])) {
                            if (copy.toLlc(layer, itemExpert[i])) {
                                llc[d].insert(key); // the LLC write overlaps the compute
                            }
                            if (copy.toHbm(layer, itemExpert[i])) {
                                queue.schedule(end + flight, 2, COPY, i);
                            }
                        }
                    }
                    case COPY -> {
                        if (copies[d].insert(key)) {
                            double start = Math.max(t, hbmBusy[d]);
                            hbmBusy[d] = start + readNs;
                            copyWrites++;
                        }
                    }
                    default -> throw new IllegalStateException("unknown event kind " + queue.kind());
                }
            }
            double slowest = 0;
            double sum = 0;
            for (int d = 0; d < dies; d++) {
                double dieNs = dieEnd[d] - t0;
                slowest = Math.max(slowest, dieNs);
                sum += dieNs;
            }
            layerNs[layer] = slowest;
            meanDieNs += sum / dies;
            clock = t0 + slowest;
        }
        long[] passBytes = new long[linkBytes.length];
        for (int i = 0; i < passBytes.length; i++) {
            passBytes[i] = linkBytes[i] - bytesBefore[i];
        }
        return new PassResult(policy.name(), pass.tokens(), layerNs, meanDieNs, hops, reads, local, remote, copyReads,
                copyWrites, llcHits, passBytes, events, boundNs);
    }

    /** The read of item i streams over [readStart, readEnd]; its compute follows the roofline. */
    private void finish(int i, double readStart, double readEnd) {
        int d = itemDie[i];
        double start = Math.max(readStart, computeBusy[d]);
        computeBusy[d] = start + itemTokens[i] * flopsNsPerToken;
        double end = Math.max(readEnd, computeBusy[d]);
        if (end > dieEnd[d]) {
            dieEnd[d] = end;
        }
    }

    private static final int STATE_VERSION = 1;

    /**
     * What carries over from pass to pass (the resource clocks, the bytes per link, each die's LLC in
     * recency order and the copies its HBM took), so a restarted emulator goes on with the same wafer
     * instead of a cold one. The HBM copy pools never evict, so their order does not matter and they are
     * written as one bitset per die; the LLC (LRU) keeps its order. A few KB per engine (Maverick on 25
     * dies: 2 KB of clocks, 384 B per die that holds copies).
     */
    public byte[] exportState() {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(4096);
        try (java.io.DataOutputStream out = new java.io.DataOutputStream(bytes)) {
            out.writeByte(STATE_VERSION);
            out.writeInt(dies);
            out.writeInt(model.numMoeLayers() * experts);
            out.writeDouble(clock);
            for (double[] a : new double[][] {hbmBusy, computeBusy, linkBusy}) {
                for (double v : a) {
                    out.writeDouble(v);
                }
            }
            for (long v : linkBytes) {
                out.writeLong(v);
            }
            for (int d = 0; d < dies; d++) {
                int[] order = llc[d].keysMostRecentFirst();
                out.writeInt(order.length);
                for (int k : order) {
                    out.writeInt(k);
                }
                int[] held = copies[d].keysMostRecentFirst();
                out.writeInt(held.length);
                if (held.length > 0) {
                    java.util.BitSet set = new java.util.BitSet(model.numMoeLayers() * experts);
                    for (int k : held) {
                        set.set(k);
                    }
                    byte[] packed = set.toByteArray();
                    out.writeInt(packed.length);
                    out.write(packed);
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * Puts the engine in the state {@link #exportState} wrote (an engine of the same model on the same
     * wafer). Throws IllegalArgumentException, leaving this engine unchanged, when the state is of another
     * shape (a different mesh or model) or unreadable.
     */
    public void importState(byte[] state) {
        int keys = model.numMoeLayers() * experts;
        double[] hbm = new double[dies];
        double[] compute = new double[dies];
        double[] links = new double[dies * 4];
        long[] linkB = new long[dies * 4];
        int[][] llcKeys = new int[dies][];
        int[][] copyKeys = new int[dies][];
        double clockNs;
        try (java.io.DataInputStream in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(state))) {
            int version = in.readUnsignedByte();
            int storedDies = in.readInt();
            int storedKeys = in.readInt();
            if (version != STATE_VERSION || storedDies != dies || storedKeys != keys) {
                throw new IllegalArgumentException("engine state of version " + version + ", " + storedDies
                        + " dies, " + storedKeys + " (layer, expert) keys; this engine: version " + STATE_VERSION
                        + ", " + dies + " dies, " + keys + " keys");
            }
            clockNs = in.readDouble();
            for (double[] a : new double[][] {hbm, compute, links}) {
                for (int i = 0; i < a.length; i++) {
                    a[i] = in.readDouble();
                }
            }
            for (int i = 0; i < linkB.length; i++) {
                linkB[i] = in.readLong();
            }
            for (int d = 0; d < dies; d++) {
                llcKeys[d] = new int[in.readInt()];
                for (int i = 0; i < llcKeys[d].length; i++) {
                    llcKeys[d][i] = in.readInt();
                }
                int held = in.readInt();
                copyKeys[d] = new int[held];
                if (held > 0) {
                    byte[] packed = new byte[in.readInt()];
                    in.readFully(packed);
                    java.util.BitSet set = java.util.BitSet.valueOf(packed);
                    if (set.cardinality() != held) {
                        throw new IllegalArgumentException("die " + d + ": " + set.cardinality() + " copies stored, "
                                + held + " counted");
                    }
                    int i = 0;
                    for (int k = set.nextSetBit(0); k >= 0; k = set.nextSetBit(k + 1)) {
                        copyKeys[d][i++] = k;
                    }
                }
            }
            if (in.read() != -1) {
                throw new IllegalArgumentException("engine state has trailing bytes");
            }
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("unreadable engine state: " + e, e);
        }
        // Loaded into fresh stores first, so a state that does not fit leaves this engine as it was.
        ExpertLru[] newLlc = new ExpertLru[dies];
        ExpertLru[] newCopies = new ExpertLru[dies];
        for (int d = 0; d < dies; d++) {
            newLlc[d] = new ExpertLru(keys, llc[d].capacity(), true);
            newLlc[d].load(llcKeys[d]);
            newCopies[d] = new ExpertLru(keys, copies[d].capacity(), false);
            newCopies[d].load(copyKeys[d]);
        }
        for (int d = 0; d < dies; d++) {
            llc[d].load(llcKeys[d]);
            copies[d].load(copyKeys[d]);
        }
        clock = clockNs;
        System.arraycopy(hbm, 0, hbmBusy, 0, dies);
        System.arraycopy(compute, 0, computeBusy, 0, dies);
        System.arraycopy(links, 0, linkBusy, 0, links.length);
        System.arraycopy(linkB, 0, linkBytes, 0, linkB.length);
    }

    /** Directed links of the XY route from {@code src} to {@code dst}. */
    private int[] route(int src, int dst) {
        int[] r = routes[src * dies + dst];
        if (r == null) {
            var path = mesh.xyRoute(src, dst);
            r = new int[path.size() - 1];
            for (int i = 0; i + 1 < path.size(); i++) {
                int a = path.get(i);
                int b = path.get(i + 1);
                int dir = b == a + 1 ? 0 : b == a - 1 ? 1 : b > a ? 2 : 3;
                r[i] = a * 4 + dir;
            }
            routes[src * dies + dst] = r;
        }
        return r;
    }

    private void grow() {
        int m = itemDie.length * 2;
        itemDie = java.util.Arrays.copyOf(itemDie, m);
        itemExpert = java.util.Arrays.copyOf(itemExpert, m);
        itemTokens = java.util.Arrays.copyOf(itemTokens, m);
        itemHolder = java.util.Arrays.copyOf(itemHolder, m);
    }
}
