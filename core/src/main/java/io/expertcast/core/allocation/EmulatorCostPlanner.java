package io.expertcast.core.allocation;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import java.util.Arrays;

/**
 * Algorithm 1 with a cost that charges what the emulator charges ({@link TaskAllocator.Mode#EMULATOR};
 * docs/allocator-cost-model.md and docs/reproduction.md walk through it). Per layer it keeps
 * three resource totals, in ns: each die's HBM port, each die's compute engine, each directed link.
 * <ul>
 *   <li>Start: every expert with work is read once from its home's HBM (EP's reads): hbm[home] += R.</li>
 *   <li>Experts by token count ascending (ties: lower id), candidates = holders + their distance-1
 *       neighbours, at most {@code max_split_num = ceil(tokens / 295)} pieces. Candidate c computing x
 *       of the expert's tokens finishes at end_c(x) = max(F_c, S_c + x f) (f = ns per token):
 *       <ul>
 *         <li>home: F = L + hbm[c] (its read is already counted), S = L + comp[c];</li>
 *         <li>another holder: its own read, F = L + hbm[c] + R, S = L + comp[c];</li>
 *         <li>a neighbour: the read queues behind everything the nearest holder h's port serves
 *             (the emulator serves remote reads after the local ones) and behind the link's load:
 *             start = max(L + hop, L + hbm[h], L + link[h->c]); F = max(start + max(R, linkNs) + hop,
 *             L + hbm[c]); S = max(start + hop, L + comp[c]); taking it adds R to hbm[h] and linkNs
 *             to the link;</li>
 *         <li>a neighbour with the expert in its LLC: F = max(llcHit + R, L + hbm[c]), S = L + comp[c].</li>
 *       </ul>
 *       (R = bytes / HBM bandwidth, linkNs = bytes / link bandwidth, L = LLC hit + miss + HBM access.)
 *       One piece: the candidate of lowest end_c(tokens). More: water-filling over the j candidates
 *       of lowest max(F, S), j = 1..max_split_num, the j with the lowest level; shares rounded down to
 *       blocks of 50, the rest in blocks of 50 to the member that then ends first.</li>
 *   <li>The plan and EP's plan are then timed exactly as the emulator times them ({@link LayerTimer})
 *       and the faster is returned (ties: EP, fewer hops): EP is always a valid plan, so the
 *       allocator is never slower than EP on the machine it is judged on.</li>
 * </ul>
 * Not thread-safe.
 */
final class EmulatorCostPlanner {
    private final HardwareConfig hw;
    private final Mesh mesh;
    private final int dies;
    private final int[][] neighbours;
    /** Per die the directed link to each of its neighbours, in {@link #neighbours} order. */
    private final int[][] neighbourLinks;
    private final LayerTimer timer;
    private final double localLatencyNs;

    private final double[] hbm;
    private final double[] comp;
    private final double[] linkLoad;
    private final int[] holders;
    private final int[] mark;
    private int stamp;
    // candidates of one expert
    private final int[] cand;
    private final int[] candHolder;   // nearest holder for a neighbour, -1 for a holder or LLC
    private final int[] candLink;
    private final double[] candF;
    private final double[] candS;
    private final double[] candKey;
    private final int[] candShare;
    private final int[] bySlot;
    private final int[] byS;

    private final ExpertsByTokens order = new ExpertsByTokens();
    private int[] pieceStart = new int[0];
    private int[] pieceCount = new int[0];
    private int[] pieceDie = new int[0];
    private int[] pieceTokens = new int[0];
    // plans in (die, expert) order for the timer
    private int[] planDie = new int[0];
    private int[] planExpert = new int[0];
    private int[] planTokens = new int[0];
    private final int[] dieFill;
    private final double[] dieNs;
    private final double[] epDieNs;

    EmulatorCostPlanner(HardwareConfig hw, Mesh mesh) {
        this.hw = hw;
        this.mesh = mesh;
        this.dies = mesh.dies();
        this.neighbours = mesh.neighbourTable();
        this.timer = new LayerTimer(hw);
        this.neighbourLinks = new int[dies][];
        for (int die = 0; die < dies; die++) {
            neighbourLinks[die] = new int[neighbours[die].length];
            for (int i = 0; i < neighbours[die].length; i++) {
                neighbourLinks[die][i] = timer.link(die, neighbours[die][i]);
            }
        }
        if (timer.mesh().rows() != mesh.rows() || timer.mesh().cols() != mesh.cols()) {
            throw new IllegalArgumentException("mesh " + mesh.rows() + "x" + mesh.cols() + " is not the hardware's "
                    + hw.rows() + "x" + hw.cols());
        }
        this.localLatencyNs = hw.llcHitNs() + hw.llcMissExtraNs() + hw.hbmAccessNs();
        this.hbm = new double[dies];
        this.comp = new double[dies];
        this.linkLoad = new double[dies * 4];
        this.holders = new int[dies];
        this.mark = new int[dies];
        this.cand = new int[dies];
        this.candHolder = new int[dies];
        this.candLink = new int[dies];
        this.candF = new double[dies];
        this.candS = new double[dies];
        this.candKey = new double[dies];
        this.candShare = new int[dies];
        this.bySlot = new int[dies];
        this.byS = new int[dies];
        this.dieFill = new int[dies + 1];
        this.dieNs = new double[dies];
        this.epDieNs = new double[dies];
    }

    AllocationResult allocate(ModelShape model, ExpertDistributionTable table, int layer, int[] tokensPerExpert,
                              LlcResidency llc) {
        int experts = model.numExperts();
        long bytes = model.expertBytes();
        double readNs = bytes / hw.hbmBytesPerS() * 1e9;
        double linkNs = bytes / hw.linkBytesPerS() * 1e9;
        double f = model.flopsPerToken() / hw.peakFlopsPerS() * 1e9;
        double hop = hw.hopLatencyNs();
        double lat = localLatencyNs;
        LlcResidency cache = bytes <= hw.llcBytes() ? llc : LlcResidency.NONE;
        order.reset(experts);
        if (pieceStart.length < experts) {
            pieceStart = new int[experts];
            pieceCount = new int[experts];
        }
        Arrays.fill(hbm, 0);
        Arrays.fill(comp, 0);
        Arrays.fill(linkLoad, 0);
        int maxPieces = 0;
        for (int e = 0; e < experts; e++) {
            int t = tokensPerExpert[e];
            pieceCount[e] = 0;
            if (t > 0) {
                order.add(e, t);
                maxPieces += Math.min(dies, TaskAllocator.maxSplit(t));
                hbm[table.homeDie(layer, e)] += readNs;
            }
        }
        order.sort();
        int active = order.size();
        if (pieceDie.length < maxPieces + active) {
            pieceDie = new int[maxPieces + active];
            pieceTokens = new int[maxPieces + active];
            planDie = new int[maxPieces + active];
            planExpert = new int[maxPieces + active];
            planTokens = new int[maxPieces + active];
        }
        int pieces = 0;
        boolean allHome = true;
        for (int o = 0; o < active; o++) {
            int expert = order.expert(o);
            int tokens = order.tokens(o);
            int home = table.homeDie(layer, expert);
            int hc = table.holders(layer, expert, holders);
            // Candidates: holders, then their neighbours (each once).
            stamp++;
            int n = 0;
            for (int h = 0; h < hc; h++) {
                int c = holders[h];
                mark[c] = stamp;
                cand[n] = c;
                candHolder[n] = -1;
                candF[n] = lat + hbm[c] + (c == home ? 0 : readNs);
                candS[n] = lat + comp[c];
                n++;
            }
            if (hc == 1 && cache == LlcResidency.NONE) {
                // The common case: one holder, no LLC state; its neighbours are one hop (one link) away.
                int near = holders[0];
                int[] around = neighbours[near];
                int[] links = neighbourLinks[near];
                double queue = Math.max(hop, hbm[near]);
                for (int i = 0; i < around.length; i++) {
                    int c = around[i];
                    double start = lat + Math.max(queue, linkLoad[links[i]]);
                    cand[n] = c;
                    candHolder[n] = near;
                    candLink[n] = links[i];
                    candF[n] = Math.max(start + Math.max(readNs, linkNs) + hop, lat + hbm[c]);
                    candS[n] = Math.max(start + hop, lat + comp[c]);
                    n++;
                }
            }
            for (int h = 0; h < hc && !(hc == 1 && cache == LlcResidency.NONE); h++) {
                for (int c : neighbours[holders[h]]) {
                    if (mark[c] == stamp) {
                        continue;
                    }
                    mark[c] = stamp;
                    cand[n] = c;
                    if (cache != LlcResidency.NONE && cache.cached(layer, expert, c)) {
                        candHolder[n] = -1;
                        candF[n] = Math.max(hw.llcHitNs() + readNs, lat + hbm[c]);
                        candS[n] = Math.max(hw.llcHitNs(), lat + comp[c]);
                    } else {
                        int near = nearest(c, hc);
                        int k = mesh.hops(near, c);
                        int link = timer.link(near, c);
                        double start = lat + Math.max(k * hop, Math.max(hbm[near], linkLoad[link]));
                        candHolder[n] = near;
                        candLink[n] = link;
                        candF[n] = Math.max(start + Math.max(readNs, linkNs) + k * hop, lat + hbm[c]);
                        candS[n] = Math.max(start + k * hop, lat + comp[c]);
                    }
                    n++;
                }
            }
            int split = f > 0 ? Math.min(n, TaskAllocator.maxSplit(tokens)) : 1;
            Arrays.fill(candShare, 0, n, 0);
            if (split == 1) {
                int best = 0;
                double bestEnd = end(0, tokens, f);
                for (int i = 1; i < n; i++) {
                    double e = end(i, tokens, f);
                    if (e < bestEnd) {
                        best = i;
                        bestEnd = e;
                    }
                }
                candShare[best] = tokens;
            } else {
                waterFill(n, split, tokens, f);
            }
            // Commit the pieces, by die (insertion: a handful per expert).
            int first = pieces;
            boolean homeKept = false;
            for (int i = 0; i < n; i++) {
                int x = candShare[i];
                if (x == 0) {
                    continue;
                }
                int c = cand[i];
                allHome &= c == home;
                comp[c] += x * f;
                if (candHolder[i] >= 0) {
                    hbm[candHolder[i]] += readNs;
                    linkLoad[candLink[i]] += linkNs;
                } else if (c == home) {
                    homeKept = true;
                } else if (table.holds(layer, expert, c)) {
                    hbm[c] += readNs;
                }
                int j = pieces++;
                while (j > first && pieceDie[j - 1] > c) {
                    pieceDie[j] = pieceDie[j - 1];
                    pieceTokens[j] = pieceTokens[j - 1];
                    j--;
                }
                pieceDie[j] = c;
                pieceTokens[j] = x;
            }
            if (!homeKept) {
                hbm[home] -= readNs;
            }
            pieceStart[expert] = first;
            pieceCount[expert] = pieces - first;
        }

        // Time the plan and EP's plan as the emulator would; keep the faster.
        int planned = dieMajor(experts, false, table, layer);
        double planNs = timer.time(model, table, layer, planned, planDie, planExpert, planTokens, cache,
                LlcResidency.NONE, dieNs);
        boolean useEp = false;
        if (pieces != active || !allHome) { // else the plan is EP's
            int ep = dieMajor(experts, true, table, layer);
            double epNs = timer.time(model, table, layer, ep, planDie, planExpert, planTokens, cache,
                    LlcResidency.NONE, epDieNs);
            useEp = epNs <= planNs;
        }

        int rows = useEp ? active : pieces;
        int[] outExperts = new int[rows];
        int[] outDies = new int[rows];
        int[] outTokens = new int[rows];
        int[] dieTokens = new int[dies];
        int remote = 0;
        long remoteHops = 0;
        int row = 0;
        for (int e = 0; e < experts; e++) {
            if (tokensPerExpert[e] == 0) {
                continue;
            }
            if (useEp) {
                outExperts[row] = e;
                outDies[row] = table.homeDie(layer, e);
                outTokens[row] = tokensPerExpert[e];
                dieTokens[outDies[row]] += outTokens[row];
                row++;
                continue;
            }
            for (int p = pieceStart[e], end = p + pieceCount[e]; p < end; p++, row++) {
                int d = pieceDie[p];
                outExperts[row] = e;
                outDies[row] = d;
                outTokens[row] = pieceTokens[p];
                dieTokens[d] += pieceTokens[p];
                if (!table.holds(layer, e, d) && !(cache != LlcResidency.NONE && cache.cached(layer, e, d))) {
                    remote += pieceTokens[p];
                    remoteHops += mesh.hops(d, table.nearestHolder(layer, e, d, mesh));
                }
            }
        }
        return new AllocationResult(outExperts, outDies, outTokens, (useEp ? epDieNs : dieNs).clone(), dieTokens,
                remote, remoteHops);
    }

    private double end(int i, int tokens, double f) {
        return Math.max(candF[i], candS[i] + tokens * f);
    }

    /** The nearest of the {@code hc} holders to {@code die} (ties: lower id, as the emulator's table lookup). */
    private int nearest(int die, int hc) {
        int best = holders[0];
        int bestHops = mesh.hops(die, best);
        for (int h = 1; h < hc; h++) {
            int hops = mesh.hops(die, holders[h]);
            if (hops < bestHops) {
                bestHops = hops;
                best = holders[h];
            }
        }
        return best;
    }

    /**
     * Splits {@code tokens} over at most {@code split} of the {@code n} candidates: for j = 1..split,
     * the j of lowest max(F, S) filled to a common level; the j with the lowest makespan wins (ties:
     * fewer pieces). Leaves the shares in {@link #candShare}.
     */
    private void waterFill(int n, int split, int tokens, double f) {
        for (int i = 0; i < n; i++) {
            candKey[i] = Math.max(candF[i], candS[i]);
            int j = i;
            while (j > 0 && candKey[bySlot[j - 1]] > candKey[i]) {
                bySlot[j] = bySlot[j - 1];
                j--;
            }
            bySlot[j] = i;
        }
        double work = tokens * f;
        double bestMakespan = Double.POSITIVE_INFINITY;
        double bestLevel = 0;
        int bestJ = 1;
        for (int j = 1; j <= split; j++) {
            // The first j by key, sorted by S (insertion of the newcomer).
            int newcomer = bySlot[j - 1];
            int p = j - 1;
            while (p > 0 && candS[byS[p - 1]] > candS[newcomer]) {
                byS[p] = byS[p - 1];
                p--;
            }
            byS[p] = newcomer;
            double sumS = 0;
            double level = 0;
            int used = 0;
            for (int m = 0; m < j; m++) {
                sumS += candS[byS[m]];
                level = (work + sumS) / (m + 1);
                used = m + 1;
                if (m + 1 == j || level <= candS[byS[m + 1]]) {
                    break;
                }
            }
            double makespan = level;
            for (int m = 0; m < used; m++) {
                makespan = Math.max(makespan, candF[byS[m]]);
            }
            if (makespan < bestMakespan) {
                bestMakespan = makespan;
                bestLevel = level;
                bestJ = j;
            }
        }
        // Shares at the best level, in blocks of 50; the rest block by block to whoever then ends first.
        int given = 0;
        for (int m = 0; m < bestJ; m++) {
            int i = bySlot[m];
            double x = (bestLevel - candS[i]) / f;
            int share = x <= 0 ? 0 : (int) Math.min(tokens, Math.floor(x / TaskAllocator.BLOCK_TOKENS)
                    * TaskAllocator.BLOCK_TOKENS);
            share = Math.min(share, tokens - given);
            candShare[i] = share;
            given += share;
        }
        while (given < tokens) {
            int block = Math.min(TaskAllocator.BLOCK_TOKENS, tokens - given);
            int best = -1;
            double bestEnd = Double.POSITIVE_INFINITY;
            for (int m = 0; m < bestJ; m++) {
                int i = bySlot[m];
                double e = end(i, candShare[i] + block, f);
                if (e < bestEnd) {
                    bestEnd = e;
                    best = i;
                }
            }
            candShare[best] += block;
            given += block;
        }
    }

    /**
     * Writes the plan (or EP's plan) into planDie/planExpert/planTokens in (die, expert) order, the
     * emulator's issue order; returns the number of items.
     */
    private int dieMajor(int experts, boolean ep, ExpertDistributionTable table, int layer) {
        Arrays.fill(dieFill, 0);
        int n = 0;
        for (int e = 0; e < experts; e++) {
            if (ep) {
                if (pieceCount[e] > 0) {
                    dieFill[table.homeDie(layer, e) + 1]++;
                    n++;
                }
            } else {
                for (int p = pieceStart[e], end = p + pieceCount[e]; p < end; p++) {
                    dieFill[pieceDie[p] + 1]++;
                    n++;
                }
            }
        }
        for (int d = 0; d < dies; d++) {
            dieFill[d + 1] += dieFill[d];
        }
        for (int e = 0; e < experts; e++) {
            if (ep) {
                if (pieceCount[e] > 0) {
                    int d = table.homeDie(layer, e);
                    int at = dieFill[d]++;
                    planDie[at] = d;
                    planExpert[at] = e;
                    planTokens[at] = expertTokens(e);
                }
            } else {
                for (int p = pieceStart[e], end = p + pieceCount[e]; p < end; p++) {
                    int at = dieFill[pieceDie[p]]++;
                    planDie[at] = pieceDie[p];
                    planExpert[at] = e;
                    planTokens[at] = pieceTokens[p];
                }
            }
        }
        return n;
    }

    private int expertTokens(int e) {
        int t = 0;
        for (int p = pieceStart[e], end = p + pieceCount[e]; p < end; p++) {
            t += pieceTokens[p];
        }
        return t;
    }
}
