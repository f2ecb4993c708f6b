package io.expertcast.core.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlacementPoliciesTest {
    /** SGLang's DeepSeek-V3 decode load, bundled (61 layers x 256 experts, 0-2 dense). */
    static final Path LOAD = Path.of("../data/sample/sglang-ep-stats/deepseek-v3/decode_in1000out1000.json");

    static double[] layerLoad(int layer) throws Exception {
        long[][] counts = LogicalCountFile.read(LOAD);
        double[] load = new double[counts[layer].length];
        for (int e = 0; e < load.length; e++) {
            load[e] = counts[layer][e];
        }
        return load;
    }

    @Test
    void policiesAreChosenByNameAndAnUnknownNameListsTheKnownOnes() {
        assertEquals(List.of("even", "eplb", "hot-replicate", "pair-separate"), PlacementPolicies.names());
        for (String name : PlacementPolicies.names()) {
            assertEquals(name, PlacementPolicies.byName(name).name());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PlacementPolicies.byName("lru"));
        assertTrue(e.getMessage().contains("unknown placement policy 'lru'; known: [even, eplb"), e.getMessage());
    }

    @Test
    void eplbThroughTheRegistryReproducesThePublishedExample() {
        // deepseek-ai/EPLB README: 2 layers x 12 experts, 16 replicas, 4 groups, 2 nodes, 8 GPUs.
        double[][] weight = EplbPlacementTest.EXAMPLE_WEIGHT;
        int[][] expected = EplbPlacementTest.EXAMPLE_PHY2LOG;
        for (int l = 0; l < 2; l++) {
            LayerPlacement p = PlacementPolicies.byName("eplb").place(new PlacementRequest(weight[l], 8, 4, 4, 2, null));
            assertArrayEquals(expected[l], p.physicalToLogical());
            assertEquals(2, p.slotsPerDie());
        }
    }

    @Test
    void evenIsContiguousAndRefusesReplicas() {
        LayerPlacement p = PlacementPolicies.byName("even").place(PlacementRequest.of(new double[] {1, 2, 3, 4}, 2, 0));
        assertArrayEquals(new int[] {0, 1, 2, 3}, p.physicalToLogical());
        assertArrayEquals(new double[] {3, 7}, p.dieLoad(new double[] {1, 2, 3, 4}));
        assertThrows(IllegalArgumentException.class,
                () -> PlacementPolicies.byName("even").place(PlacementRequest.of(new double[] {1, 2, 3, 4}, 2, 2)));
    }

    @Test
    void hotReplicationKeepsEveryHomeAndSpendsEachSpareSlotOnTheHottestExpertPerCopy() {
        // 4 experts on 2 dies of 3 slots, homes {0, 1} and {2, 3}: expert 3 (load 40) is copied first, onto
        // die 0 (the one with room). Then per copy 3 -> 20, 2 -> 7, 1 -> 2: both dies hold 3; 2 has no die
        // with room that lacks it (die 0 is full); so expert 1 goes to die 1.
        double[] load = {1, 2, 7, 40};
        LayerPlacement p = PlacementPolicies.byName("hot-replicate").place(PlacementRequest.of(load, 2, 2));
        assertArrayEquals(new int[] {0, 1, 3, 2, 3, 1}, p.physicalToLogical());
        assertArrayEquals(new int[] {1, 2, 1, 2}, p.logicalCount());
    }

    @Test
    void onTheRealDeepSeekLoadHotReplicationBeatsEvenWithOnlyRMovesAndRespectsSlots() throws Exception {
        double[] load = layerLoad(10);
        double even = PlacementPolicies.byName("even").place(PlacementRequest.of(load, 16, 0)).maxOverMean(load);
        LayerPlacement hot = PlacementPolicies.byName("hot-replicate").place(PlacementRequest.of(load, 16, 32));
        assertEquals(18, hot.slotsPerDie());
        for (int d = 0; d < 16; d++) {
            for (int e = d * 16; e < (d + 1) * 16; e++) {
                assertTrue(hot.holds(d, e), "expert " + e + " left its home die " + d);
            }
        }
        double hotBalance = hot.maxOverMean(load);
        assertTrue(hotBalance < even - 0.3, "hot-replicate " + hotBalance + " vs even " + even);
    }

    @Test
    void pairSeparationKeepsStronglyCoActivatedPairsApartWithinTheBalanceSlack() {
        // 8 experts of equal load on 4 dies; experts e and e+1 (e even) are always co-activated, which
        // contiguous placement puts on one die. Pair separation puts every strong pair on two dies.
        double[] load = {10, 10, 10, 10, 10, 10, 10, 10};
        double[][] pairs = new double[8][8];
        for (int e = 0; e < 8; e += 2) {
            pairs[e][e + 1] = pairs[e + 1][e] = 100;
        }
        LayerPlacement even = PlacementPolicies.byName("even").place(PlacementRequest.of(load, 4, 0));
        assertEquals(400, PairSeparationPolicy.colocatedPairCount(even, pairs));
        LayerPlacement separated = PlacementPolicies.byName("pair-separate")
                .place(new PlacementRequest(load, 4, 0, 1, 1, pairs));
        assertEquals(0, PairSeparationPolicy.colocatedPairCount(separated, pairs));
        assertEquals(1.0, separated.maxOverMean(load), 1e-12);
    }

    @Test
    void pairSeparationOnRealLoadWithSyntheticPairsStaysNearEplbBalance() throws Exception {
        double[] load = layerLoad(20);
        double[][] pairs = new double[256][256];
        java.util.Random random = new java.util.Random(5);
        for (int i = 0; i < 400; i++) { // strong pairs among neighbouring ids, as contiguous placement groups them
            int a = random.nextInt(256);
            int b = Math.min(255, a + 1 + random.nextInt(4));
            if (a != b) {
                pairs[a][b] += 1000;
                pairs[b][a] += 1000;
            }
        }
        PlacementRequest request = new PlacementRequest(load, 16, 32, 1, 1, pairs);
        LayerPlacement eplb = PlacementPolicies.byName("eplb").place(request);
        LayerPlacement sep = PlacementPolicies.byName("pair-separate").place(request);
        double sepColocated = PairSeparationPolicy.colocatedPairCount(sep, pairs);
        double eplbColocated = PairSeparationPolicy.colocatedPairCount(eplb, pairs);
        assertTrue(sepColocated < 0.2 * eplbColocated, "pair-separate " + sepColocated + " vs eplb " + eplbColocated);
        assertTrue(sep.maxOverMean(load) < eplb.maxOverMean(load) + PairSeparationPolicy.BALANCE_SLACK + 0.01,
                "pair-separate " + sep.maxOverMean(load) + " vs eplb " + eplb.maxOverMean(load));
    }

    @Test
    void hbmCapacityOfTheDojoWaferForDeepSeek() {
        HardwareConfig dojo = HardwareConfig.load("dojo-5x5");
        assertEquals(14, HbmCapacity.slotsPerDiePerLayer(dojo, ModelCatalog.DEEPSEEK_V3));
        assertEquals(14 * 25 - 256, HbmCapacity.redundantPerLayer(dojo, ModelCatalog.DEEPSEEK_V3));
        ExpertDistributionTable table = ExpertDistributionTable.even(ModelCatalog.DEEPSEEK_V3, 25);
        HbmCapacity.check(table, ModelCatalog.DEEPSEEK_V3, dojo);
        for (int layer = 0; layer < 58; layer++) { // 11 homes + 4 replicas x 58 layers = 870 copies > 817
            for (int e = 0; e < 4; e++) {
                table.replicate(layer, 100 + e, 0);
            }
        }
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> HbmCapacity.check(table, ModelCatalog.DEEPSEEK_V3, dojo));
        assertTrue(ex.getMessage().startsWith("die 0 would hold 870 copies of deepseek-v3 experts (76.6 GB), beyond its"
                + " usable HBM of 72.0 GB (817 copies)"), ex.getMessage());
    }
}
