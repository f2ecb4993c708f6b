package io.expertcast.core.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelShape;
import java.util.List;
import org.junit.jupiter.api.Test;

class RebalanceTest {
    /** 8 experts, 1 MoE layer, on a 1x4 mesh; contiguous homes {0,1} {2,3} {4,5} {6,7}. */
    private static final ModelShape MODEL = new ModelShape("r8", 1, new int[] {0}, 8, 2, 100, 100, 1.0);
    private static final Mesh MESH = new Mesh(1, 4);
    private static final long BYTES = MODEL.expertBytes();

    @Test
    void aBoundedRebalanceMovesTheHottestCopiesFirstAndNeverMoreThanTheBound() {
        double[] load = {100, 90, 1, 1, 1, 1, 1, 1};
        ExpertDistributionTable table = ExpertDistributionTable.even(MODEL, 4);
        // Target: EPLB-like, the two hot experts on dies of their own plus replicas.
        LayerPlacement target = PlacementPolicies.byName("pair-separate").place(PlacementRequest.of(load, 4, 4));
        List<PlacementMove> moves = Rebalance.toward(table, 0, target, load, 1, 3, BYTES, MESH);
        assertEquals(1, Rebalance.movedExperts(moves));
        PlacementMove first = moves.stream().filter(m -> m.action() != PlacementMove.Action.EVICT).findFirst().orElseThrow();
        assertTrue(first.expert() == 0, "the hottest expert moves first: " + moves);
        assertEquals(BYTES, first.bytes());
        for (int e = 0; e < 8; e++) {
            assertTrue(table.copies(0, e) >= 1);
        }
    }

    @Test
    void withEnoughMovesTheTableReachesTheTargetAndEveryMoveCarriesItsBytes() {
        double[] load = {100, 90, 1, 1, 1, 1, 1, 1};
        ExpertDistributionTable table = ExpertDistributionTable.even(MODEL, 4);
        LayerPlacement target = PlacementPolicies.byName("eplb").place(PlacementRequest.of(load, 4, 4));
        // The target fills 3 slots per die; the HBM share has a 4th, the room a swap between dies needs.
        List<PlacementMove> moves = Rebalance.toward(table, 0, target, load, 100, 4, BYTES, MESH);
        for (int d = 0; d < 4; d++) {
            for (int e = 0; e < 8; e++) {
                assertEquals(target.holds(d, e), table.holds(0, e, d), "die " + d + " expert " + e + " after " + moves);
            }
            assertTrue(table.copiesOnDie(0, d) <= 3); // EPLB may put two replicas of one expert on a die
        }
        for (PlacementMove m : moves) {
            assertEquals(m.action() == PlacementMove.Action.EVICT ? 0 : BYTES, m.bytes());
        }
        // Replaying the moves on a fresh table gives the same table (what a restarted consumer does).
        ExpertDistributionTable replay = ExpertDistributionTable.even(MODEL, 4);
        moves.forEach(m -> m.applyTo(replay));
        assertEquals(table, replay);
    }

    @Test
    void aMoveForAnUnknownExpertOrDieIsRefused() {
        ExpertDistributionTable table = ExpertDistributionTable.even(MODEL, 4);
        assertThrows(IllegalArgumentException.class, () -> PlacementMove.replicate(0, 8, 0, 1, BYTES).applyTo(table));
        assertThrows(IllegalArgumentException.class, () -> PlacementMove.replicate(0, 1, 0, 4, BYTES).applyTo(table));
        assertThrows(IllegalArgumentException.class, () -> PlacementMove.migrate(0, 1, 3, 2, BYTES).applyTo(table));
        assertThrows(IllegalStateException.class, () -> PlacementMove.evict(0, 1, 0).applyTo(table));
        assertFalse(table.holds(0, 1, 2));
    }

    @Test
    void workloadProfilesPlaceEachTagForItsOwnHotExpertsWithBoundedMovesOnASchedule() {
        WorkloadProfiles profiles = new WorkloadProfiles(1, 8, 0.5, WorkloadProfiles.DEFAULT_PERIOD_MS);
        assertTrue(profiles.observe("mmlu/en", 0, new int[] {50, 0, 0, 0, 0, 0, 0, 1}));
        assertFalse(profiles.observe("mmlu/en", 0, new int[] {50, 0, 0, 0, 0, 0, 0, 1}));
        assertTrue(profiles.observe("mmlu/zh", 0, new int[] {0, 0, 0, 0, 0, 0, 1, 60}));
        assertEquals(75.0, profiles.profile("mmlu/en").orElseThrow()[0][0], 1e-12);
        ExpertDistributionTable table = ExpertDistributionTable.even(MODEL, 4);
        List<PlacementMove> zh = profiles.apply("mmlu/zh", table, PlacementPolicies.byName("hot-replicate"), 4, 2, 3,
                BYTES, MESH);
        assertEquals(2, Rebalance.movedExperts(zh));
        assertTrue(zh.stream().allMatch(m -> m.action() == PlacementMove.Action.EVICT || m.expert() == 7), zh.toString());
        assertTrue(profiles.apply("unknown", table, PlacementPolicies.byName("eplb"), 4, 2, 3, BYTES, MESH).isEmpty());
        assertTrue(profiles.due(0));
        assertFalse(profiles.due(WorkloadProfiles.DEFAULT_PERIOD_MS - 1));
        assertTrue(profiles.due(WorkloadProfiles.DEFAULT_PERIOD_MS));
    }
    @Test
    void aRestoredProfileMixesWithOthersAndALayerWithoutLoadIsLeftAlone() {
        ModelShape two = new ModelShape("r8x2", 2, new int[] {0, 1}, 8, 2, 100, 100, 1.0);
        WorkloadProfiles profiles = new WorkloadProfiles(2, 8, 0.5, WorkloadProfiles.DEFAULT_PERIOD_MS);
        profiles.restore("mmlu/en", new double[][] {{40, 0, 0, 0, 0, 0, 0, 0}, new double[8]});
        profiles.observe("mmlu/zh", 0, new int[] {0, 0, 0, 0, 0, 0, 0, 30});
        double[][] mix = profiles.mix(List.of("mmlu/en", "mmlu/zh", "never-seen"));
        assertEquals(40.0, mix[0][0], 1e-12);
        assertEquals(30.0, mix[0][7], 1e-12);
        assertEquals(0.0, java.util.Arrays.stream(mix[1]).sum(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> profiles.restore("x", new double[][] {new double[8]}));

        ExpertDistributionTable table = ExpertDistributionTable.even(two, 4);
        ExpertDistributionTable before = table.copy();
        List<PlacementMove> moves = WorkloadProfiles.rebalance(mix, table, PlacementPolicies.byName("hot-replicate"), 4,
                8, 3, BYTES, MESH);
        assertEquals(0, table.changeFrom(before, 1).moves(), "layer 1 saw no tokens: " + moves);
        assertTrue(moves.stream().allMatch(m -> m.layer() == 0), moves.toString());
        assertTrue(table.copies(0, 0) > 1 && table.copies(0, 7) > 1, "both workloads' hot experts got replicas");
        // Already where the policy wants it: nothing to do.
        assertTrue(WorkloadProfiles.rebalance(mix, table, PlacementPolicies.byName("hot-replicate"), 4, 8, 3, BYTES,
                MESH).isEmpty());
    }
}
