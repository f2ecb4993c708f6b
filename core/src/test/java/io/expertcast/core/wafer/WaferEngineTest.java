package io.expertcast.core.wafer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Hand-checked runs of the discrete-event engine. Round numbers: one expert = 3 x 1000 x 1000 params
 * x 1 byte = 3 MB, 6 MFLOP per token; a die does 6e15 FLOP/s (1 ns per token) and its HBM port and
 * every link move 3e12 B/s (1000 ns per expert). A local read waits LLC hit + miss + HBM access =
 * 100 + 110 + 300 = 510 ns; a remote read's command needs hops x 200 ns to reach the holder, which
 * then waits 510 ns, streams 1000 ns, and the data lands hops x 200 ns later. No LLC unless a test
 * gives one. Even placement of experts over the dies (contiguous blocks).
 */
class WaferEngineTest {
    static final ModelShape MODEL = new ModelShape("t", 1, new int[] {0}, 4, 1, 1000, 1000, 1.0);

    static HardwareConfig mesh(int cols, long llcBytes) {
        return new HardwareConfig("mini", 1, cols, 6e15, 80_000_000_000L, 3e12, 3e12, 200, llcBytes, 100, 110, 30,
                300, 16, 0.1);
    }

    static final WaferContext WAFER = WaferContext.even(mesh(2, 0), MODEL);
    // 1x2 mesh; e0, e1 on die 0; e2, e3 on die 1. Token i lives on die i mod 2:
    // t0 (e0) and t2 (e2) on die 0, t1 (e0) and t3 (e3) on die 1.
    static final PassWorkload PASS = new PassWorkload(MODEL, 7, 4, new int[] {0, 0, 2, 3});

    // Base deals expert e's task to die e mod 2: e0 (home) and e2 (from die 1) on die 0, e1 (from die 0) on die 1.
    static final PassWorkload SPREAD = new PassWorkload(MODEL, 8, 4, new int[] {2, 2, 0, 1});

    @Test
    void baseDealsTasksRoundRobinWhereverTheirWeightsAre() {
        PassResult r = new WaferEngine(WAFER, MODEL).run(SPREAD, new BasePolicy(), null);
        // die 0 reads e0 locally 510..1510; its command for e2 reaches die 1 at 200, streams 710..1710
        // and lands 910..1910. die 1's e1 waits for die 0's HBM port until 1510, lands 1710..2710.
        assertArrayEquals(new double[] {2710}, r.layerNs(), 1e-9);
        assertEquals((1910 + 2710) / 2.0, r.meanDieNs(), 1e-9);
        assertEquals(2, r.hops());
        assertEquals(1, r.localReads());
        assertEquals(2, r.remoteReads());
        // link 0 = die 0 eastwards (e1's weights + die 0's command for e2); link 5 = die 1 westwards.
        assertEquals(3_000_016, r.linkBytes()[0]);
        assertEquals(3_000_016, r.linkBytes()[5]);
        assertEquals(3, r.events());
    }

    @Test
    void epComputesEveryExpertOnItsHomeDieOneHbmReadAfterAnother() {
        PassResult r = new WaferEngine(WAFER, MODEL).run(PASS, new ExpertParallelPolicy(), null);
        // die 0: e0 (2 tokens) 510..1510; die 1: e2 510..1510 then e3 1510..2510.
        assertArrayEquals(new double[] {2510}, r.layerNs(), 1e-9);
        assertEquals((1510 + 2510) / 2.0, r.meanDieNs(), 1e-9);
        assertEquals(0, r.hops());
        assertEquals(3, r.localReads());
        assertEquals(4 / 2510e-9, PolicyTotals.of(r).throughputTokensPerS(), 1e-3);
    }

    @Test
    void aSharedLinkIsAFifo() {
        // 1x3 mesh, 3 experts (one per die), every token on expert 2 (home die 2).
        ModelShape m = new ModelShape("t3", 1, new int[] {0}, 3, 1, 1000, 1000, 1.0);
        WaferContext w = WaferContext.even(mesh(3, 0), m);
        List<int[][]> plan = List.<int[][]>of(new int[][] {{2, 0, 1}, {2, 1, 1}, {2, 2, 1}});
        PassResult r = new WaferEngine(w, m).run(new PassWorkload(m, 0, 3, new int[] {2, 2, 2}),
                new ControllerPlanPolicy(plan), null);
        // die 2 local 510..1510; die 1's command lands at 200, streams 1510..2510 (HBM port), arrives 2710;
        // die 0's lands at 400, waits for the port and the link 2->1 until 2510, streams to 3510, arrives 3910.
        assertArrayEquals(new double[] {3910}, r.layerNs(), 1e-9);
        assertEquals(3, r.hops());
        assertEquals((3910 + 2710 + 1510) / 3.0, r.meanDieNs(), 1e-9);
    }

    @Test
    void computeBoundWorkFollowsTheRoofline() {
        // 5000 tokens of e0 on die 0: the read takes 1000 ns, the GEMMs 5000 ns from when data starts (510).
        int[] ids = new int[10_000];
        PassResult r = new WaferEngine(WAFER, MODEL).run(new PassWorkload(MODEL, 0, ids.length, ids),
                new ExpertParallelPolicy(), null);
        assertArrayEquals(new double[] {510 + 10_000}, r.layerNs(), 1e-9);
    }

    @Test
    void copyOnReadMakesThePredictedExpertLocalForTheNextPass() {
        WaferEngine pred = new WaferEngine(WAFER, MODEL);
        Policy policy = Policies.of(Policies.PRED, List.of());
        CopyEnable all = CopyEnable.hbm(new boolean[][] {{true, true, true, true}});
        PassResult first = pred.run(SPREAD, policy, all);
        assertArrayEquals(new double[] {2710}, first.layerNs(), 1e-9, "the first pass is Base's");
        assertEquals(2, first.copyWrites());
        PassResult second = pred.run(SPREAD, policy, all);
        // Copies are written on arrival, behind what the HBM port already serves: die 0's port sent e1
        // until 2510, so its copy of e2 is written 2510..3510; die 1's e1 2710..3710. Pass 2 starts at
        // 2710: die 0 reads e0 3510..4510 then its copy of e2 4510..5510 -> 2800 ns, no hops.
        assertArrayEquals(new double[] {2800}, second.layerNs(), 1e-9);
        assertEquals(0, second.hops());
        assertEquals(2, second.copyReads());
        assertEquals(0, second.remoteReads());

        WaferEngine notPredicted = new WaferEngine(WAFER, MODEL);
        notPredicted.run(SPREAD, policy, new CopyEnable(1, 4));
        assertEquals(2, notPredicted.run(SPREAD, policy, all).remoteReads(), "no forecast, no copy");
    }

    /**
     * Two commands that differ only in tier: copy e2 (die 0 reads it from die 1) on SPREAD, with an
     * LLC that holds one expert. e1 (die 1 reads it from die 0) is not enabled. The first pass is
     * Base's either way (2710 ns): die 0 reads e0 locally 510..1510 (its LLC keeps it), e2 streams
     * from die 1 710..1710 and lands 1910; die 1's e1 waits for die 0's port, 1510..2510, lands 2710.
     */
    @Test
    void anLlcCommandKeepsTheReadInTheLlcAndAnHbmCommandWritesItIntoHbm() {
        WaferContext oneExpertLlc = WaferContext.even(mesh(2, 3_000_000), MODEL);
        Policy policy = Policies.of(Policies.PRED, List.of());

        CopyEnable toLlc = new CopyEnable(1, 4);
        toLlc.enable(0, 2, CopyEnable.LLC);
        WaferEngine llc = new WaferEngine(oneExpertLlc, MODEL);
        PassResult llcFirst = llc.run(SPREAD, policy, toLlc);
        assertArrayEquals(new double[] {2710}, llcFirst.layerNs(), 1e-9);
        assertEquals(0, llcFirst.copyWrites(), "no HBM write");
        assertTrue(llc.llcHolds(0, 0, 2) && !llc.llcHolds(0, 0, 0), "e2 evicted e0 from die 0's one-expert LLC");
        assertTrue(!llc.hbmCopy(0, 0, 2));
        // Pass 2 from 2710: die 0 hits e2 in its LLC (2810..3810, no port) and reads e0 from HBM
        // 3220..4220; die 1's e1 waits for die 0's port until 4220, lands 5420: 2710 ns.
        PassResult llcSecond = llc.run(SPREAD, policy, null);
        assertArrayEquals(new double[] {2710}, llcSecond.layerNs(), 1e-9);
        assertEquals(1, llcSecond.llcHits());
        assertEquals(1, llcSecond.localReads());
        assertEquals(0, llcSecond.copyReads());
        assertEquals(1, llcSecond.remoteReads());

        CopyEnable toHbm = new CopyEnable(1, 4);
        toHbm.enable(0, 2, CopyEnable.HBM);
        WaferEngine hbm = new WaferEngine(oneExpertLlc, MODEL);
        PassResult hbmFirst = hbm.run(SPREAD, policy, toHbm);
        assertArrayEquals(new double[] {2710}, hbmFirst.layerNs(), 1e-9);
        assertEquals(1, hbmFirst.copyWrites(), "e2 written into die 0's HBM 2510..3510, behind e1's read");
        assertTrue(hbm.hbmCopy(0, 0, 2) && !hbm.llcHolds(0, 0, 2) && hbm.llcHolds(0, 0, 0));
        // Pass 2: die 0 hits e0 in its LLC and reads its copy of e2 from HBM once the write is done,
        // 3510..4510; die 1's e1 waits for die 0's port until 4510, lands 5710: 3000 ns.
        PassResult hbmSecond = hbm.run(SPREAD, policy, null);
        assertArrayEquals(new double[] {3000}, hbmSecond.layerNs(), 1e-9);
        assertEquals(1, hbmSecond.llcHits());
        assertEquals(0, hbmSecond.localReads());
        assertEquals(1, hbmSecond.copyReads());
        assertEquals(1, hbmSecond.remoteReads());

        // An LLC copy needs room: with no LLC (a BF16 DeepSeek expert is 88 MB, the LLC 64 MB) an LLC
        // command changes nothing, while the HBM copy is made all the same.
        WaferEngine noLlc = new WaferEngine(WAFER, MODEL);
        noLlc.run(SPREAD, policy, toLlc);
        assertEquals(2, noLlc.run(SPREAD, policy, null).remoteReads());
        WaferEngine noLlcHbm = new WaferEngine(WAFER, MODEL);
        noLlcHbm.run(SPREAD, policy, toHbm);
        assertEquals(1, noLlcHbm.run(SPREAD, policy, null).copyReads());
    }

    @Test
    void theLlcEvictsTheLeastRecentlyUsedAndTheHbmCopyPoolKeepsWhatItHolds() {
        ExpertLru llc = new ExpertLru(10, 2, true);
        llc.insert(1);
        llc.insert(2);
        llc.touch(1);
        llc.insert(3); // evicts 2
        assertTrue(llc.contains(1) && llc.contains(3) && !llc.contains(2));
        ExpertLru pool = new ExpertLru(10, 2, false);
        assertTrue(pool.insert(1));
        assertTrue(pool.insert(2));
        assertTrue(!pool.insert(3), "full: no copy");
        assertTrue(pool.contains(1) && pool.contains(2) && !pool.contains(3));
    }

    @Test
    void theLlcServesARepeatedReadWhenTheExpertFits() {
        WaferContext w = WaferContext.even(mesh(2, 3_000_000), MODEL); // room for one expert
        WaferEngine ep = new WaferEngine(w, MODEL);
        ep.run(PASS, new ExpertParallelPolicy(), null);
        PassResult again = ep.run(PASS, new ExpertParallelPolicy(), null);
        // Lookups happen when the reads are issued: die 0 hits e0 (100..1100); die 1 misses e2 (read
        // 510..1510 from HBM) and hits e3, which it read last (100..1100).
        assertEquals(2, again.llcHits());
        assertArrayEquals(new double[] {1510}, again.layerNs(), 1e-9);
    }

    @Test
    void anUnusablePlanIsRejectedWithTheReason() {
        WaferEngine engine = new WaferEngine(WAFER, MODEL);
        List<int[][]> outside = List.<int[][]>of(new int[][] {{0, 5, 2}, {2, 1, 1}, {3, 1, 1}});
        assertTrue(assertThrows(InvalidPlanException.class,
                () -> engine.run(PASS, new ControllerPlanPolicy(outside), null)).getMessage()
                .contains("die 5 outside the 1x2 mesh"));
        List<int[][]> tooMany = List.<int[][]>of(new int[][] {{0, 0, 3}, {2, 1, 1}, {3, 1, 1}});
        assertTrue(assertThrows(InvalidPlanException.class,
                () -> engine.run(PASS, new ControllerPlanPolicy(tooMany), null)).getMessage()
                .contains("gives expert 0 3 tokens, the pass routed 2"));
        List<int[][]> badExpert = List.<int[][]>of(new int[][] {{9, 0, 2}});
        assertThrows(InvalidPlanException.class, () -> engine.run(PASS, new ControllerPlanPolicy(badExpert), null));
        List<int[][]> missing = new ArrayList<>();
        missing.add(null);
        assertThrows(InvalidPlanException.class, () -> engine.run(PASS, new ControllerPlanPolicy(missing), null));
    }

    @Test
    void alloExecutesThePlan() {
        List<int[][]> plan = new ArrayList<>();
        plan.add(new int[][] {{0, 1, 2}, {2, 1, 1}, {3, 1, 1}}); // everything on die 1, e0 fetched from die 0
        PassResult r = new WaferEngine(WAFER, MODEL).run(PASS, new ControllerPlanPolicy(plan), null);
        // die 1: e2 510..1510, e3 1510..2510 on its port; e0 streams from die 0 710..1710, lands 1910.
        assertArrayEquals(new double[] {2510}, r.layerNs(), 1e-9);
        assertEquals(1, r.hops());
        assertEquals(1, r.remoteReads());
    }

    @Test
    void aModelThatDoesNotFitTheWaferIsAClearError() {
        HardwareConfig one = new HardwareConfig("one", 1, 1, 989e12, 80_000_000_000L, 3.35e12, 1.7e12, 200,
                64L << 20, 100, 110, 30, 300, 16, 0.1);
        var e = assertThrows(IllegalArgumentException.class, () -> new WaferEngine(
                WaferContext.even(one, ModelCatalog.DEEPSEEK_V3), ModelCatalog.DEEPSEEK_V3));
        assertTrue(e.getMessage().contains("deepseek-v3 does not fit on one"), e.getMessage());
    }

    @Test
    void sameInputSameNumbers() {
        PassResult a = new WaferEngine(WAFER, MODEL).run(PASS, new BasePolicy(), null);
        PassResult b = new WaferEngine(WaferContext.even(mesh(2, 0), MODEL), MODEL).run(PASS, new BasePolicy(), null);
        assertEquals(a.moeNs(), b.moeNs());
        assertArrayEquals(a.layerNs(), b.layerNs());
        assertArrayEquals(a.linkBytes(), b.linkBytes());
        assertThrows(IllegalArgumentException.class, () -> Policies.of("oracle", List.of()));
    }
}
