package io.expertcast.core.allocation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.allocation.AllocationResult.ExpertAssignment;
import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The emulator-cost allocator ({@link TaskAllocator.Mode#EMULATOR}), its timer and the lower bound.
 * Round numbers, as the emulator's hand-checked tests: an expert is 3 MB and 6 MFLOP per token, a
 * die does 6e15 FLOP/s (1 ns per token), its HBM port and every link move 3e12 B/s (R = 1000 ns per
 * expert both ways), a local read waits L = 100 + 110 + 300 = 510 ns, a hop takes 200 ns.
 */
class EmulatorCostTest {
    static final ModelShape MODEL = new ModelShape("t", 1, new int[] {0}, 4, 1, 1000, 1000, 1.0);
    static final HardwareConfig ONE_BY_TWO = new HardwareConfig("mini", 1, 2, 6e15, 80_000_000_000L, 3e12, 3e12, 200,
            0, 100, 110, 30, 300, 16, 0.1);

    @Test
    void aHotExpertIsSplitWhereTheHoldersHbmPortAndTheLinkAllowCheckedByHand() {
        // 1x2 mesh, e0 and e1 on die 0, e2 and e3 on die 1. Work: e0 8000 tokens, e1 10.
        TaskAllocator allocator = new TaskAllocator(Mesh.of(ONE_BY_TWO), new DieCostModel(ONE_BY_TWO));
        ExpertDistributionTable table = ExpertDistributionTable.even(MODEL, 2);
        AllocationResult r = allocator.allocate(MODEL, table, 0, new int[] {8000, 10, 0, 0});
        // Start: die 0's port reads e0 and e1 (EP's reads): hbm = [2000, 0].
        // e1 (10 tokens, one piece): die 0 ends max(510 + 2000, 510 + 0 + 10) = 2510; die 1's read would
        //   queue behind die 0's port: start 510 + 2000, F = 2510 + 1000 + 200 = 3710 -> die 0, comp[0] = 10.
        // e0 (8000, max_split 28, 2 candidates): die 0 F = 2510, S = 520; die 1 F = 3710, S = 2710.
        //   Alone on die 0: level 8520. Both: level (8000 + 520 + 2710) / 2 = 5615 >= F = 3710, so both:
        //   shares 5095 -> 5050 and 2905 -> 2900 tokens in blocks of 50; the last block goes to die 0
        //   (5620 vs 5660).
        assertEquals(List.of(new ExpertAssignment(0, 0, 5100), new ExpertAssignment(0, 1, 2900),
                new ExpertAssignment(1, 0, 10)), r.assignments());
        // As the emulator times it: die 0 reads e0 510..1510 and computes 5100 tokens 510..5610, reads e1
        // 1510..2510 and computes it 5610..5620; die 1's read of e0 waits for die 0's port (2510), streams
        // until 3510 and lands 200 ns later, its 2900 tokens compute 2710..5610. EP: 510 + 8000 + 10 = 8520.
        assertArrayEquals(new double[] {5620, 5610}, r.dieNs(), 1e-9);
        assertEquals(2900, r.remoteTokens());
        assertEquals(1, r.remoteHops());
        // The bound: compute (8010 ns over 2 dies, none before 510) = 4515 > die 0's two forced reads (2510).
        double bound = new LayerLowerBound(ONE_BY_TWO).boundNs(MODEL, table, 0, new int[] {8000, 10, 0, 0},
                LlcResidency.NONE, LlcResidency.NONE);
        assertEquals(4515, bound, 1e-9);
    }

    @Test
    void keepsEpsPlanWhenMovingWorkCannotPayForTheHoldersPort() {
        // e0 3000 tokens: splitting would make die 1 wait for die 0's port (2510) and the link: level
        // (3000 + 520 + 2710) / 2 = 3115 but die 1 cannot end before 3710 > 3520 (all on die 0).
        TaskAllocator allocator = new TaskAllocator(Mesh.of(ONE_BY_TWO), new DieCostModel(ONE_BY_TWO));
        AllocationResult r = allocator.allocate(MODEL, ExpertDistributionTable.even(MODEL, 2), 0, new int[] {3000, 10, 0, 0});
        assertEquals(List.of(new ExpertAssignment(0, 0, 3000), new ExpertAssignment(1, 0, 10)), r.assignments());
        assertEquals(3520, r.maxDieNs(), 1e-9);
        assertEquals(0, r.remoteTokens());
    }

    @Test
    void neverSlowerThanEpAsTheEmulatorTimesItAndNeverBelowTheBound() {
        Random random = new Random(11);
        int better = 0;
        int layers = 0;
        for (String preset : HardwareConfig.PRESETS) {
            HardwareConfig hw = HardwareConfig.load(preset);
            Mesh mesh = Mesh.of(hw);
            TaskAllocator emulator = new TaskAllocator(mesh, new DieCostModel(hw));
            TaskAllocator paper = new TaskAllocator(mesh, new DieCostModel(hw), TaskAllocator.Mode.PAPER);
            LayerTimer timer = new LayerTimer(hw);
            LayerLowerBound lowerBound = new LayerLowerBound(hw);
            for (ModelShape model : List.of(ModelCatalog.DEEPSEEK_V3, ModelCatalog.QWEN3_235B, ModelCatalog.LLAMA4_MAVERICK)) {
                ExpertDistributionTable table = ExpertDistributionTable.even(model, hw.dies());
                for (int i = 0; i < 8; i++) {
                    int batch = new int[] {4096, 8192, 16384}[i % 3];
                    int[] tokens = TaskAllocatorTest.skewedLayer(random, model.numExperts(), batch * model.topK());
                    int layer = random.nextInt(model.numMoeLayers());
                    double ep = time(timer, model, table, layer, epPlan(model, table, layer, tokens));
                    AllocationResult r = emulator.allocate(model, table, layer, tokens);
                    double planned = time(timer, model, table, layer, r);
                    assertEquals(planned, r.maxDieNs(), 1e-6, "the result reports the timer's figure");
                    assertTrue(planned <= ep, preset + " " + model.id() + ": " + planned + " vs EP " + ep);
                    double bound = lowerBound.boundNs(model, table, layer, tokens, LlcResidency.NONE, LlcResidency.NONE);
                    assertTrue(bound <= planned && bound <= ep, "bound " + bound + " above " + planned);
                    assertTrue(bound <= time(timer, model, table, layer, paper.allocate(model, table, layer, tokens)));
                    if (planned < 0.99 * ep) {
                        better++;
                    }
                    layers++;
                }
            }
        }
        // Skewed layers at 16384 tokens are compute-bound on their hot dies: moving work must pay there.
        assertTrue(better >= layers / 4, better + " of " + layers + " layers faster than EP");
    }

    @Test
    void theBoundCountsOnlyReadsNoOtherDieCouldServe() {
        ExpertDistributionTable table = ExpertDistributionTable.even(MODEL, 2);
        LayerLowerBound b = new LayerLowerBound(ONE_BY_TWO);
        int[] small = {1, 1, 1, 0};
        // Die 0 must read e0 and e1 itself: 510 + 2 x 1000.
        assertEquals(2510, b.boundNs(MODEL, table, 0, small, LlcResidency.NONE, LlcResidency.NONE), 1e-9);
        // A copy of e1 on die 1 lets die 1 read it: die 0 keeps one forced read, die 1 one (e2).
        assertEquals(1510, b.boundNs(MODEL, table, 0, small, LlcResidency.NONE, (l, e, d) -> e == 1 && d == 1), 1e-9);
        assertEquals(0, b.boundNs(MODEL, table, 0, new int[4], LlcResidency.NONE, LlcResidency.NONE));
    }

    private static AllocationResult epPlan(ModelShape model, ExpertDistributionTable table, int layer, int[] tokens) {
        int n = 0;
        for (int t : tokens) {
            n += t > 0 ? 1 : 0;
        }
        int[] experts = new int[n];
        int[] dies = new int[n];
        int[] counts = new int[n];
        for (int e = 0, i = 0; e < tokens.length; e++) {
            if (tokens[e] > 0) {
                experts[i] = e;
                dies[i] = table.homeDie(layer, e);
                counts[i++] = tokens[e];
            }
        }
        return new AllocationResult(experts, dies, counts, new double[table.dies()], new int[table.dies()], 0, 0);
    }

    static double time(LayerTimer timer, ModelShape model, ExpertDistributionTable table, int layer, AllocationResult r) {
        return timer.time(model, table, layer, r);
    }
}
