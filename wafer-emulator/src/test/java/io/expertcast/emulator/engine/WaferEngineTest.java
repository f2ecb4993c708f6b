package io.expertcast.emulator.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelShape;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Round numbers: one expert = 3 x 1000 x 1000 params x 1 byte = 3 MB, 6 MFLOP per token. A die does
 * 6e15 FLOP/s (1 ns per token) and reads HBM at 3e12 B/s (1000 ns per expert), so any expert with up to
 * 1000 tokens costs 1000 ns locally; a remote read adds 200 ns per hop + 3 MB / 3e12 B/s = 1000 ns.
 * Mesh 1x2; even placement of 4 experts: experts 0,1 on die 0, experts 2,3 on die 1.
 */
class WaferEngineTest {
    static final ModelShape MODEL = new ModelShape("t", 1, new int[] {0}, 4, 1, 1000, 1000, 1.0);
    static final HardwareConfig HW = new HardwareConfig("mini", 1, 2, 6e15, 80_000_000_000L, 3e12, 3e12, 200,
            64L << 20, 100, 110, 30, 300, 16, 0.1);
    static final WaferContext WAFER = WaferContext.even(HW, MODEL);
    // Token i lives on die i mod 2: t0 (e0) and t2 (e2) on die 0, t1 (e0) and t3 (e3) on die 1.
    static final PassWorkload PASS = new PassWorkload(MODEL, 7, 4, new int[] {0, 0, 2, 3});

    @Test
    void baseReadsRemoteExpertsFromTheirHomeDie() {
        PassResult r = WaferEngine.run(PASS, new BasePolicy(), WAFER);
        // die 0: e0 local 1000 + e2 remote (200 + 1000) + 1000 = 3200; die 1: e0 remote 2200 + e3 local 1000.
        assertArrayEquals(new double[] {3200}, r.layerNs(), 1e-9);
        assertEquals(2, r.hops());
        assertEquals(2, r.localReads());
        assertEquals(2, r.remoteReads());
    }

    @Test
    void epComputesEveryExpertOnItsHomeDie() {
        PassResult r = WaferEngine.run(PASS, new ExpertParallelPolicy(), WAFER);
        // die 0: e0 (2 tokens) 1000; die 1: e2 1000 + e3 1000 = 2000 -> slowest 2000.
        assertArrayEquals(new double[] {2000}, r.layerNs(), 1e-9);
        assertEquals(0, r.hops());
        assertEquals(3, r.localReads());
        assertEquals(4 / 2000e-9, r.tokens() / (r.moeNs() * 1e-9), 1e-3);
    }

    @Test
    void alloExecutesThePlanAndChargesRemoteWeights() {
        List<int[][]> plan = new ArrayList<>();
        plan.add(new int[][] {{0, 1, 2}, {2, 1, 1}, {3, 1, 1}}); // everything on die 1, e0 fetched from die 0
        PassResult r = WaferEngine.run(PASS, new ControllerPlanPolicy(plan), WAFER);
        assertArrayEquals(new double[] {2200 + 1000 + 1000}, r.layerNs(), 1e-9);
        assertEquals(1, r.hops());
        assertEquals(1, r.remoteReads());
    }

    @Test
    void anUnusablePlanIsRejectedWithTheReason() {
        List<int[][]> outside = List.<int[][]>of(new int[][] {{0, 5, 2}, {2, 1, 1}, {3, 1, 1}});
        assertTrue(assertThrows(InvalidPlanException.class,
                () -> WaferEngine.run(PASS, new ControllerPlanPolicy(outside), WAFER)).getMessage()
                .contains("die 5 outside the 1x2 mesh"));
        List<int[][]> tooMany = List.<int[][]>of(new int[][] {{0, 0, 3}, {2, 1, 1}, {3, 1, 1}});
        assertTrue(assertThrows(InvalidPlanException.class,
                () -> WaferEngine.run(PASS, new ControllerPlanPolicy(tooMany), WAFER)).getMessage()
                .contains("gives expert 0 3 tokens, the pass routed 2"));
        List<int[][]> badExpert = List.<int[][]>of(new int[][] {{9, 0, 2}});
        assertThrows(InvalidPlanException.class, () -> WaferEngine.run(PASS, new ControllerPlanPolicy(badExpert), WAFER));
        List<int[][]> missing = new ArrayList<>();
        missing.add(null);
        assertThrows(InvalidPlanException.class, () -> WaferEngine.run(PASS, new ControllerPlanPolicy(missing), WAFER));
    }

    @Test
    void sameInputSameNumbers() {
        PassResult a = WaferEngine.run(PASS, new BasePolicy(), WAFER);
        PassResult b = WaferEngine.run(PASS, new BasePolicy(), WaferContext.even(HW, MODEL));
        assertArrayEquals(a.layerNs(), b.layerNs());
        assertEquals(a.hops(), b.hops());
        assertThrows(IllegalArgumentException.class, () -> Policies.of("oracle", List.of()));
    }
}
