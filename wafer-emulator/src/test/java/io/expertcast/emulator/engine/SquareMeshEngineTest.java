package io.expertcast.emulator.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelShape;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A 2x2 mesh, so hops are Manhattan distances of 1 and 2. Dies: 0 (0,0), 1 (0,1), 2 (1,0), 3 (1,1).
 * Round numbers as in {@link WaferEngineTest}: an expert is 3 MB, a token 6 MFLOP; 6e15 FLOP/s and
 * 3e12 B/s HBM make computeNs = max(tokens x 1 ns, 1000 ns) = 1000 ns here; a remote read costs
 * hops x 200 ns + 3 MB / 3e12 B/s = 1200 ns (1 hop) or 1400 ns (2 hops).
 * Model: 8 experts, k = 2, 2 MoE layers; even placement e -> die e*4/8: e0,e1 on 0; e2,e3 on 1;
 * e4,e5 on 2; e6,e7 on 3. Pass of 4 tokens, token i on die i.
 */
class SquareMeshEngineTest {
    static final ModelShape MODEL = new ModelShape("t8", 2, new int[] {0, 1}, 8, 2, 1000, 1000, 1.0);
    static final HardwareConfig HW = new HardwareConfig("square", 2, 2, 6e15, 80_000_000_000L, 3e12, 3e12, 200,
            64L << 20, 100, 110, 30, 300, 16, 0.1);
    static final WaferContext WAFER = WaferContext.even(HW, MODEL);
    // ids [token][layer][k]: layer 0: t0 {6,7}, t1 {0,2}, t2 {4,5}, t3 {6,0}; layer 1: every token {0,1}.
    static final PassWorkload PASS = new PassWorkload(MODEL, 3, 4, new int[] {
            6, 7, 0, 1,
            0, 2, 0, 1,
            4, 5, 0, 1,
            6, 0, 0, 1});

    @Test
    void baseChargesManhattanDistanceOfEveryRemoteRead() {
        PassResult r = WaferEngine.run(PASS, new BasePolicy(), WAFER);
        // Layer 0: die 0 reads e6, e7 from die 3 (2 hops): 2 x (1400 + 1000) = 4800;
        //          die 1: e0 from die 0 (1 hop) 2200 + e2 local 1000 = 3200; die 2: e4, e5 local 2000;
        //          die 3: e6 local 1000 + e0 from die 0 (2 hops) 2400 = 3400 -> slowest 4800.
        //          hops 2+2+1+2 = 7, remote 4, local 4.
        // Layer 1: die 0: e0, e1 local 2000; dies 1 and 2: 1 hop each, 2 x 2200 = 4400;
        //          die 3: 2 hops, 2 x 2400 = 4800 -> slowest 4800. hops 2+2+4 = 8, remote 6, local 2.
        assertArrayEquals(new double[] {4800, 4800}, r.layerNs(), 1e-9);
        assertEquals(9600, r.moeNs(), 1e-9);
        assertEquals(15, r.hops());
        assertEquals(10, r.remoteReads());
        assertEquals(6, r.localReads());
        assertEquals(4, r.tokens());
    }

    @Test
    void epHasNoWeightTrafficAndTheLayerWaitsForTheBusiestHomeDie() {
        PassResult r = WaferEngine.run(PASS, new ExpertParallelPolicy(), WAFER);
        // Layer 0 tokens per expert: e0 2, e2 1, e4 1, e5 1, e6 2, e7 1.
        //   die 0: e0 1000; die 1: e2 1000; die 2: e4 + e5 2000; die 3: e6 + e7 2000 -> 2000, 6 local reads.
        // Layer 1: e0 4 and e1 4, both on die 0: 2000; 2 local reads.
        assertArrayEquals(new double[] {2000, 2000}, r.layerNs(), 1e-9);
        assertEquals(0, r.hops());
        assertEquals(0, r.remoteReads());
        assertEquals(8, r.localReads());
        // 4 tokens in 4000 ns = 1e6 tokens/s, 2.4x Base's 4 tokens in 9600 ns.
        PolicyTotals ep = PolicyTotals.of(r);
        assertEquals(1e6, ep.throughputTokensPerS(), 1e-6);
        assertEquals(4 / 9600e-9, PolicyTotals.of(WaferEngine.run(PASS, new BasePolicy(), WAFER)).throughputTokensPerS(),
                1e-6);
    }

    @Test
    void alloReadsEachExpertOncePerDieFromTheNearestHolder() {
        List<int[][]> plan = List.of(
                // layer 0: EP except e7 computed on die 0, 2 hops from its home die 3
                new int[][] {{0, 0, 2}, {2, 1, 1}, {4, 2, 1}, {5, 2, 1}, {6, 3, 2}, {7, 0, 1}},
                // layer 1: e0 split over dies 0 and 1 (one read each), e1 on die 2 (1 hop from die 0)
                new int[][] {{0, 0, 2}, {0, 1, 2}, {1, 2, 4}});
        PassResult r = WaferEngine.run(PASS, new ControllerPlanPolicy(plan), WAFER);
        // Layer 0: die 0: e0 1000 + e7 2400 = 3400 (slowest); die 2: 2000; die 3: 1000. hops 2, 1 remote, 5 local.
        // Layer 1: die 0 1000; die 1 e0 2200; die 2 e1 2200 -> 2200. hops 2, 2 remote, 1 local.
        assertArrayEquals(new double[] {3400, 2200}, r.layerNs(), 1e-9);
        assertEquals(4, r.hops());
        assertEquals(3, r.remoteReads());
        assertEquals(6, r.localReads());
    }

    @Test
    void alloRejectsAPlanThatComputesMoreTokensThanThePassRouted() {
        // layer 1 routes 4 tokens to e0; a plan computing 5 of them would overstate the work.
        List<int[][]> plan = List.of(
                new int[][] {{0, 0, 2}, {2, 1, 1}, {4, 2, 1}, {5, 2, 1}, {6, 3, 2}, {7, 3, 1}},
                new int[][] {{0, 0, 5}, {1, 0, 4}});
        InvalidPlanException e = assertThrows(InvalidPlanException.class,
                () -> WaferEngine.run(PASS, new ControllerPlanPolicy(plan), WAFER));
        assertEquals("plan for pass 3 layer 1 gives expert 0 5 tokens, the pass routed 4 to it", e.getMessage());
    }

    @Test
    void totalsAddUpOverPassesAndKeepThePolicyApart() {
        PassResult base = WaferEngine.run(PASS, new BasePolicy(), WAFER);
        PolicyTotals two = PolicyTotals.empty("base").plus(base).plus(base);
        assertEquals(new PolicyTotals("base", 2, 8, 19200, 30, 12, 20), two);
        assertEquals(8 / 19200e-9, two.throughputTokensPerS(), 1e-6);
        assertEquals(0, PolicyTotals.empty("ep").throughputTokensPerS());
        assertThrows(IllegalArgumentException.class,
                () -> two.plus(WaferEngine.run(PASS, new ExpertParallelPolicy(), WAFER)));
    }
}
