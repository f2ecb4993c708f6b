package io.expertcast.core.allocation;

import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import java.util.Arrays;

/**
 * Algorithm 1 of the paper (Insight 3, expert-placement-aware workload distribution), run once per
 * forward pass and MoE layer:
 * <ol>
 *   <li>sort the experts with work by token count ascending (ties: lower expert id);</li>
 *   <li>for each expert, candidates = the dies holding it plus their neighbours at Manhattan
 *       distance 1, sorted by current planned load plus the fixed cost of starting a piece there
 *       (ties: lower die id) and capped at {@code max_split_num = max(1, ceil(tokens / 295))}.
 *       Counting the start cost matters: ranking on bare load sent most small experts
 *       (max_split_num = 1) to a marginally idler neighbour, 62 % remote tokens and a max die time
 *       above EP's at batch 4096 on DeepSeek / dojo-5x5; with it: 31 %, below EP;</li>
 *   <li>hand out the expert's tokens in blocks of 50 (the last block smaller); each block goes to the
 *       candidate of lowest cost (ties: earlier in the candidate order); blocks on one die merge.</li>
 * </ol>
 * The paper does not publish its cost; ours is the die's planned finishing time after taking the
 * block, in ns, with every term from the hardware config the emulator uses ({@link DieCostModel}):
 * <pre>
 * cost(die, block) = load[die]                                         ns already planned on the die
 *   + computeNs(assigned + block) - computeNs(assigned)                incremental roofline of this expert there:
 *                                                                      max(FLOPs/peak, weight bytes/HBM bandwidth)
 *   + block x act(die)                                                 activations there and back over the die's links
 *   + first block of the expert on the die only:
 *       weights: local HBM access (300 ns) on a holder,
 *                LLC hit (100 ns) when the die has it in LLC,
 *                hops x 200 ns + weight bytes / link bandwidth from the nearest holder otherwise
 *     + meanHops(die) x 200 ns                                         the activations' route latency
 * act(die) = 2 x hidden x 2 B x (D-1)/D / (links(die) x link bandwidth)   tokens come evenly from all D dies
 * </pre>
 * max_split_num: 295 tokens is where an expert's GEMMs turn compute-bound on an H100-class die
 * (989 TFLOP/s over 3.35 TB/s, docs/paper-notes.md); below it every extra split re-reads the full weights
 * for no compute gain, so an expert is split into at most one piece per 295 tokens, never more than
 * its candidates.
 *
 * <p>Deterministic. Allocation-light: scratch arrays are reused across calls, so an instance is not
 * thread-safe (one per stream task).
 */
public final class TaskAllocator {
    /**
     * Which cost Algorithm 1 ranks with. {@link #EMULATOR} (the default) charges what the emulator
     * charges: the holder's HBM port for a remote read, the links of the route, the LLC, and keeps
     * EP's plan when that is faster ({@link EmulatorCostPlanner}). {@link #PAPER} is the cost above
     * (issue 5), kept so the benchmark can print both and the hand-checked case still holds.
     */
    public enum Mode { EMULATOR, PAPER }

    /** Tokens per block handed out (Algorithm 1). */
    public static final int BLOCK_TOKENS = 50;
    /** Tokens per expert above which its GEMMs are compute-bound on an H100-class die. */
    public static final int COMPUTE_BOUND_TOKENS = 295;

    private final Mode mode;
    private final EmulatorCostPlanner emulatorCost;
    private final Mesh mesh;
    private final DieCostModel costModel;
    private final int dies;
    private final int[][] neighbours;

    private final double[] load;
    private final int[] dieTokens;
    private final int[] candidateMark;
    private final int[] holderMark;
    private int stamp;
    private int holderCount;
    private final int[] holders;
    private final int[] candidates;
    private final int[] assigned;
    private final double[] nextCost;
    private final double[] fetchByDie;
    /** Per die: ns per token of activation exchange, and the fixed route latency of a piece's activations. */
    private final double[] actNsPerToken;
    private final double[] actLatencyNs;
    private final boolean[] cachedMark;
    /** Hops from a candidate to the expert's nearest holder (0 for holders and LLC-cached dies). */
    private final int[] hopsByDie;
    /** Mesh hops between every pair of dies, flat [from x dies + to] (no divisions in the hot loop). */
    private final int[] hopTable;
    /** weightTransferNs(model, h) of this call's model, by hop count. */
    private final double[] fetchByHops;
    private final ExpertsByTokens order = new ExpertsByTokens();
    /** This call's pieces, (die << 32 | tokens), each expert's together; sorted by die per expert. */
    private long[] pieceOf = new long[0];
    /** Per expert its first piece in {@link #pieceOf} and how many it has (0 = no work this call). */
    private int[] pieceStart = new int[0];
    private int[] pieceCount = new int[0];
    /** Per die the start cost of a piece on a holder: local HBM access + the activations' route latency. */
    private final double[] holderStartNs;
    /** Per die the start cost of a piece one hop from the only holder: weights over one hop + route latency. */
    private final double[] oneHopStartNs;
    /** Per candidate die its ranking key, load + start cost (filled by rankCandidates). */
    private final double[] rankKey;
    /**
     * The model the per-model tables below were computed for; they are pure functions of the model
     * and the hardware, so they persist across calls (per-block precompute, extended on demand).
     */
    private ModelShape cachedModel;
    /** computeNs(model, t) for t = 0..computeFilled-1. */
    private double[] computeByTokens = new double[0];
    private int computeFilled;
    /** computeNs(n+1 blocks) - computeNs(n blocks), n = 0..incFilled-1. */
    private double[] blockIncNs = new double[0];
    private int incFilled;
    /** Activation ns of one full block on each die. */
    private final double[] blockActNs;

    public TaskAllocator(Mesh mesh, DieCostModel costModel) {
        this(mesh, costModel, Mode.EMULATOR);
    }

    public TaskAllocator(Mesh mesh, DieCostModel costModel, Mode mode) {
        this.mode = mode;
        this.emulatorCost = mode == Mode.EMULATOR ? new EmulatorCostPlanner(costModel.hardware(), mesh) : null;
        this.mesh = mesh;
        this.costModel = costModel;
        this.dies = mesh.dies();
        this.neighbours = mesh.neighbourTable();
        this.load = new double[dies];
        this.dieTokens = new int[dies];
        this.candidateMark = new int[dies];
        this.holderMark = new int[dies];
        this.holders = new int[dies];
        this.candidates = new int[dies];
        this.assigned = new int[dies];
        this.nextCost = new double[dies];
        this.fetchByDie = new double[dies];
        this.actNsPerToken = new double[dies];
        this.blockActNs = new double[dies];
        this.actLatencyNs = new double[dies];
        this.cachedMark = new boolean[dies];
        this.rankKey = new double[dies];
        this.holderStartNs = new double[dies];
        this.oneHopStartNs = new double[dies];
        this.hopsByDie = new int[dies];
        this.hopTable = new int[dies * dies];
        int maxHops = 0;
        for (int from = 0; from < dies; from++) {
            for (int to = 0; to < dies; to++) {
                hopTable[from * dies + to] = mesh.hops(from, to);
                maxHops = Math.max(maxHops, hopTable[from * dies + to]);
            }
        }
        this.fetchByHops = new double[maxHops + 1];
        for (int die = 0; die < dies; die++) {
            double hops = 0;
            for (int from = 0; from < dies; from++) {
                hops += mesh.hops(from, die);
            }
            actLatencyNs[die] = hops / dies * costModel.hardware().hopLatencyNs();
            holderStartNs[die] = costModel.localWeightAccessNs(false) + actLatencyNs[die];
        }
    }

    public Mesh mesh() {
        return mesh;
    }

    public Mode mode() {
        return mode;
    }

    /**
     * Plans one MoE layer.
     *
     * @param moeLayer         MoE layer index (0..numMoeLayers-1) in {@code table}
     * @param tokensPerExpert  tokens routed to each expert in this pass and layer, length = experts
     */
    public AllocationResult allocate(ModelShape model, ExpertDistributionTable table, int moeLayer,
                                     int[] tokensPerExpert) {
        return allocate(model, table, moeLayer, tokensPerExpert, LlcResidency.NONE);
    }

    /**
     * Plans one MoE layer knowing which dies hold which experts in their LLC (an expert larger than
     * the LLC is never counted as cached).
     */
    public AllocationResult allocate(ModelShape model, ExpertDistributionTable table, int moeLayer,
                                     int[] tokensPerExpert, LlcResidency llc) {
        int numExperts = model.numExperts();
        if (tokensPerExpert.length != numExperts || table.numExperts() != numExperts) {
            throw new IllegalArgumentException("model " + model.id() + " has " + numExperts + " experts, got "
                    + tokensPerExpert.length + " counts and a table of " + table.numExperts());
        }
        if (moeLayer < 0 || moeLayer >= table.numMoeLayers()) {
            throw new IllegalArgumentException("MoE layer " + moeLayer + " out of range 0.." + (table.numMoeLayers() - 1));
        }
        if (table.dies() != dies) {
            throw new IllegalArgumentException("table has " + table.dies() + " dies, mesh " + dies);
        }
        for (int e = 0; e < numExperts; e++) {
            if (tokensPerExpert[e] < 0) {
                throw new IllegalArgumentException("negative token count " + tokensPerExpert[e] + " for expert " + e);
            }
        }
        if (mode == Mode.EMULATOR) {
            return emulatorCost.allocate(model, table, moeLayer, tokensPerExpert, llc);
        }
        Arrays.fill(load, 0);
        Arrays.fill(dieTokens, 0);
        if (model != cachedModel) {
            forModel(model);
        }
        LlcResidency cache = model.expertBytes() <= costModel.hardware().llcBytes() ? llc : LlcResidency.NONE;

        // 1. Experts with work, by token count ascending, ties by id: one primitive sort of (tokens, id).
        order.reset(numExperts);
        if (pieceStart.length < numExperts) {
            pieceStart = new int[numExperts];
            pieceCount = new int[numExperts];
        }
        Arrays.fill(pieceCount, 0, numExperts, 0);
        int maxPieces = 0;
        for (int e = 0; e < numExperts; e++) {
            int t = tokensPerExpert[e];
            if (t > 0) { // (negative counts were rejected above)
                order.add(e, t);
                maxPieces += Math.min(dies, maxSplit(t));
            }
        }
        order.sort();
        int active = order.size();
        // computeNs up to the largest expert's tokens and the block increments up to its blocks + 1.
        int maxTokens = order.maxTokens();
        extendCompute(model, maxTokens + BLOCK_TOKENS + 1);
        extendIncrements(maxTokens / BLOCK_TOKENS + 2);
        if (pieceOf.length < maxPieces) {
            pieceOf = new long[maxPieces];
        }

        int pieces = 0;
        int remote = 0;
        long remoteHops = 0;
        for (int o = 0; o < active; o++) {
            int expert = order.expert(o);
            int tokens = order.tokens(o);
            if (tokens <= COMPUTE_BOUND_TOKENS && cache == LlcResidency.NONE
                    && table.holders(moeLayer, expert, holders) == 1) {
                // Most experts of a layer: one piece, one copy, no LLC state (see placeWhole).
                int holder = holders[0];
                int die = placeWhole(holder, tokens);
                pieceStart[expert] = pieces;
                pieceCount[expert] = 1;
                pieceOf[pieces++] = (long) die << 32 | tokens;
                dieTokens[die] += tokens;
                if (die != holder) {
                    remote += tokens;
                    remoteHops += 1;
                }
                continue;
            }
            int k = rankCandidates(model, table, moeLayer, expert, tokens, cache);
            handOut(k, tokens);
            // The expert's pieces, by die (insertion sort: at most one per candidate).
            int first = pieces;
            for (int i = 0; i < k; i++) {
                if (assigned[i] > 0) {
                    int die = candidates[i];
                    long piece = (long) die << 32 | assigned[i];
                    int j = pieces++;
                    while (j > first && pieceOf[j - 1] > piece) {
                        pieceOf[j] = pieceOf[j - 1];
                        j--;
                    }
                    pieceOf[j] = piece;
                    dieTokens[die] += assigned[i];
                    if (holderMark[die] != stamp && !cachedMark[die]) {
                        remote += assigned[i];
                        remoteHops += hopsByDie[die];
                    }
                }
            }
            pieceStart[expert] = first;
            pieceCount[expert] = pieces - first;
        }

        // Rows by expert then die: experts in id order, each one's pieces already by die.
        int[] outExperts = new int[pieces];
        int[] outDies = new int[pieces];
        int[] outTokens = new int[pieces];
        int row = 0;
        for (int expert = 0; expert < numExperts; expert++) {
            for (int p = pieceStart[expert], end = p + pieceCount[expert]; p < end; p++, row++) {
                outExperts[row] = expert;
                outDies[row] = (int) (pieceOf[p] >>> 32);
                outTokens[row] = (int) pieceOf[p];
            }
        }
        return new AllocationResult(outExperts, outDies, outTokens, load.clone(), dieTokens.clone(), remote,
                remoteHops);
    }

    /**
     * 3. Hands the expert's tokens to the first {@code k} candidates in blocks of 50, each to the
     * candidate of lowest cost, the last (smaller) block included; leaves each candidate's tokens in
     * {@link #assigned} and the dies' planned ns in {@link #load}.
     */
    private void handOut(int k, int tokens) {
        double[] inc = blockIncNs;
        double[] next = nextCost;
        // 3. Blocks of 50 to the cheapest candidate; cost(die) is the die's finish time after the block.
        // next[i] = candidate i's cost for the next full block, updated only for the candidate that
        // took the block, so a block costs one pass over k doubles.
        for (int i = 0; i < k; i++) {
            assigned[i] = 0;
            int die = candidates[i];
            next[i] = load[die] + fetchByDie[die] + inc[0] + blockActNs[die];
        }
        int fullBlocks = tokens / BLOCK_TOKENS;
        int b = 0;
        while (b < fullBlocks) {
            // The cheapest candidate (ties: earlier) and the runner-up (ties: earlier). Only the
            // taker's cost moves, so the taker keeps every block while it stays ahead of the
            // runner-up: one scan per run of blocks instead of per block, the same hand-out.
            int best = 0;
            double bestCost = next[0];
            int second = k;
            double secondCost = Double.POSITIVE_INFINITY;
            for (int i = 1; i < k; i++) {
                double c = next[i];
                if (c < bestCost) {
                    second = best;
                    secondCost = bestCost;
                    best = i;
                    bestCost = c;
                } else if (c < secondCost) {
                    second = i;
                    secondCost = c;
                }
            }
            int die = candidates[best];
            double act = blockActNs[die];
            int blocks = assigned[best];
            double cost = bestCost;
            do {
                load[die] = cost;
                cost = cost + inc[++blocks] + act;
                b++;
            } while (b < fullBlocks && (cost < secondCost || (cost == secondCost && best < second)));
            assigned[best] = blocks;
            next[best] = cost;
        }
        for (int i = 0; i < k; i++) {
            assigned[i] *= BLOCK_TOKENS;
        }
        int last = tokens - fullBlocks * BLOCK_TOKENS;
        if (last > 0) {
            int best = 0;
            double bestCost = Double.POSITIVE_INFINITY;
            for (int i = 0; i < k; i++) {
                int die = candidates[i];
                double cost = load[die] + computeByTokens[assigned[i] + last]
                        - computeByTokens[assigned[i]] + last * actNsPerToken[die]
                        + (assigned[i] == 0 ? fetchByDie[die] : 0);
                if (cost < bestCost) {
                    bestCost = cost;
                    best = i;
                }
            }
            load[candidates[best]] = bestCost;
            assigned[best] += last;
        }
    }

    /**
     * Steps 2-3 for an expert with max_split_num = 1, one holder and no LLC state, without the
     * candidate arrays: the cheapest of the holder and its neighbours (load + start cost, ties: lower
     * die) takes every block. The same arithmetic, in the same order, as rankCandidates + handOut
     * with k = 1, so the plans stay bit-identical. Returns the die; leaves its planned ns in {@link #load}.
     */
    private int placeWhole(int holder, int tokens) {
        int best = holder;
        double bestFetch = holderStartNs[holder];
        double bestKey = load[holder] + bestFetch;
        for (int neighbour : neighbours[holder]) {
            double fetch = oneHopStartNs[neighbour];
            double key = load[neighbour] + fetch;
            if (key < bestKey || (key == bestKey && neighbour < best)) {
                best = neighbour;
                bestKey = key;
                bestFetch = fetch;
            }
        }
        double act = blockActNs[best];
        double planned = load[best];
        int fullBlocks = tokens / BLOCK_TOKENS;
        double cost = planned + bestFetch + blockIncNs[0] + act;
        for (int b = 1; b <= fullBlocks; b++) {
            planned = cost;
            cost = cost + blockIncNs[b] + act;
        }
        int placed = fullBlocks * BLOCK_TOKENS;
        int last = tokens - placed;
        if (last > 0) {
            planned = planned + computeByTokens[placed + last] - computeByTokens[placed]
                    + last * actNsPerToken[best] + (placed == 0 ? bestFetch : 0);
        }
        load[best] = planned;
        return best;
    }

    /** The per-model tables: activation costs per die, weight fetch by hops; compute tables restart empty. */
    private void forModel(ModelShape model) {
        for (int die = 0; die < dies; die++) {
            actNsPerToken[die] = costModel.activationExchangeNsPerToken(model, neighbours[die].length, dies);
            blockActNs[die] = BLOCK_TOKENS * actNsPerToken[die];
        }
        for (int h = 0; h < fetchByHops.length; h++) {
            fetchByHops[h] = costModel.weightTransferNs(model, h);
        }
        for (int die = 0; die < dies; die++) {
            oneHopStartNs[die] = actLatencyNs[die] + fetchByHops[Math.min(1, fetchByHops.length - 1)];
        }
        computeFilled = 0;
        incFilled = 0;
        cachedModel = model;
    }

    /** Makes computeByTokens[t] = computeNs(model, t) hold for every t < {@code size}. */
    private void extendCompute(ModelShape model, int size) {
        if (size <= computeFilled) {
            return;
        }
        if (size > computeByTokens.length) {
            computeByTokens = Arrays.copyOf(computeByTokens, Math.max(size, 2 * computeByTokens.length));
        }
        for (int t = computeFilled; t < size; t++) {
            computeByTokens[t] = costModel.computeNs(cachedModel, t);
        }
        computeFilled = size;
    }

    /** Makes blockIncNs[n] = computeNs((n+1) x 50) - computeNs(n x 50) hold for every n < {@code size}. */
    private void extendIncrements(int size) {
        if (size <= incFilled) {
            return;
        }
        extendCompute(cachedModel, size * BLOCK_TOKENS + 1);
        if (size > blockIncNs.length) {
            blockIncNs = Arrays.copyOf(blockIncNs, Math.max(size, 2 * blockIncNs.length));
        }
        for (int n = incFilled; n < size; n++) {
            blockIncNs[n] = computeByTokens[(n + 1) * BLOCK_TOKENS] - computeByTokens[n * BLOCK_TOKENS];
        }
        incFilled = size;
    }

    /** max_split_num: one piece per 295 tokens (the compute-bound point), at least one. */
    static int maxSplit(int tokens) {
        return Math.max(1, (tokens + COMPUTE_BOUND_TOKENS - 1) / COMPUTE_BOUND_TOKENS);
    }

    /**
     * 2. Fills {@link #candidates} with the holders of {@code expert} and their distance-1
     * neighbours, sorted by planned load (+ the weight fetch a non-holder needs) then die id, and
     * returns how many are kept
     * (min(candidates, max_split_num)). Leaves the holders in {@link #holders} / {@link #holderCount}
     * and marks them in {@link #holderMark} with the new stamp.
     */
    private int rankCandidates(ModelShape model, ExpertDistributionTable table, int layer, int expert, int tokens,
                               LlcResidency llc) {
        stamp++;
        holderCount = table.holders(layer, expert, holders);
        int n = 0;
        for (int h = 0; h < holderCount; h++) {
            int die = holders[h];
            holderMark[die] = stamp;
            candidateMark[die] = stamp;
            cachedMark[die] = false;
            hopsByDie[die] = 0;
            fetchByDie[die] = holderStartNs[die];
            candidates[n++] = die;
        }
        if (holderCount == 1 && llc == LlcResidency.NONE) {
            // The common case (one copy, no LLC state): the neighbours are 1 hop from the holder.
            for (int neighbour : neighbours[holders[0]]) {
                cachedMark[neighbour] = false;
                hopsByDie[neighbour] = 1;
                fetchByDie[neighbour] = oneHopStartNs[neighbour];
                candidates[n++] = neighbour;
            }
        } else {
            n = addNeighbours(n, layer, expert, llc);
        }
        return rank(n, tokens);
    }

    /** The distance-1 neighbours of every holder, each once, after the {@code n} holders in {@link #candidates}. */
    private int addNeighbours(int n, int layer, int expert, LlcResidency llc) {
        for (int h = 0; h < holderCount; h++) {
            for (int neighbour : neighbours[holders[h]]) {
                if (candidateMark[neighbour] != stamp) {
                    candidateMark[neighbour] = stamp;
                    boolean cached = llc != LlcResidency.NONE && llc.cached(layer, expert, neighbour);
                    cachedMark[neighbour] = cached;
                    hopsByDie[neighbour] = cached ? 0 : hopsToNearest(neighbour);
                    fetchByDie[neighbour] = actLatencyNs[neighbour] + (cached ? costModel.localWeightAccessNs(true)
                            : fetchByHops[hopsByDie[neighbour]]);
                    candidates[n++] = neighbour;
                }
            }
        }
        return n;
    }

    /** Sorts the {@code n} candidates by load + start cost, then die id; returns how many are kept. */
    private int rank(int n, int tokens) {
        for (int i = 0; i < n; i++) {
            int die = candidates[i];
            rankKey[die] = load[die] + fetchByDie[die];
        }
        int keep = Math.min(n, maxSplit(tokens));
        if (keep == 1) {
            // One piece (up to 295 tokens): only the first in rank order matters.
            int best = 0;
            for (int i = 1; i < n; i++) {
                if (before(candidates[i], candidates[best])) {
                    best = i;
                }
            }
            candidates[0] = candidates[best];
            return 1;
        }
        // Insertion sort: a handful of candidates per expert.
        for (int i = 1; i < n; i++) {
            int die = candidates[i];
            int j = i - 1;
            while (j >= 0 && before(die, candidates[j])) {
                candidates[j + 1] = candidates[j];
                j--;
            }
            candidates[j + 1] = die;
        }
        return keep;
    }

    private boolean before(int a, int b) {
        double ka = rankKey[a];
        double kb = rankKey[b];
        return ka < kb || (ka == kb && a < b);
    }

    private int hopsToNearest(int die) {
        int best = Integer.MAX_VALUE;
        for (int h = 0; h < holderCount; h++) {
            best = Math.min(best, hopTable[die * dies + holders[h]]);
        }
        return best;
    }
}
