package io.expertcast.core.allocation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.allocation.AllocationResult.ExpertAssignment;
import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.EvenPlacement;
import io.expertcast.core.placement.ExpertDistributionTable;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TaskAllocatorTest {

    /** 1 ns per token, 100 ns to stream the weights from HBM, 1-hop weight fetch = 130 + 100 ns. */
    private static final ModelShape TINY = new ModelShape("tiny", 1, new int[] {0}, 4, 1, 1000, 1000, 1.0);
    private static final HardwareConfig TINY_2X2 = new HardwareConfig("tiny-2x2", 2, 2, 6e15, 1_000_000_000L,
            3e13, 3e13, 130, 0, 0, 0, 0, 0, 0, 0);

    @Test
    void twoByTwoMeshCaseCheckedByHand() {
        DieCostModel cost = new DieCostModel(TINY_2X2);
        assertEquals(230.0, cost.weightTransferNs(TINY, 1), 1e-9);
        // Activations: 2 x 1000 x 2 B x 3/4 over 2 links of 3e13 B/s = 0.05 ns per token; every die of a
        // 2x2 mesh is 1 hop from the average die, so a piece starts with 130 ns of route latency.
        assertEquals(0.05, cost.activationExchangeNsPerToken(TINY, 2, 4), 1e-12);
        TaskAllocator allocator = new TaskAllocator(Mesh.of(TINY_2X2), cost, TaskAllocator.Mode.PAPER);
        // Expert e lives on die e. Dies 0 1 / 2 3. compute(t) = max(t, 100) ns; local HBM access 0 ns.
        AllocationResult r = allocator.allocate(TINY, ExpertDistributionTable.even(TINY, 4), 0,
                new int[] {1000, 20, 0, 30});
        // Order: e1 (20), e3 (30), e0 (1000); e2 has no work.
        // e1: candidates 1 (130), 0 (130+230), 3 (360); max_split 1 -> die 1: 100 + 20 x 0.05 + 130 = 231.
        // e3: candidates 3 (130), 2 (360), 1 (231+360); max_split 1 -> die 3: 100 + 1.5 + 130 = 231.5.
        // e0: candidates 0 (130), 2 (360), 1 (591); max_split ceil(1000/295) = 4, capped at 3.
        //   A die's finish time after its n-th block: first 100 + 2.5 + start, second + 2.5 (the HBM
        //   read is already paid), then + 52.5 each (50 ns compute + 2.5 ns activations):
        //   die 0: 232.5, 235, 287.5, ..., die 2: 462.5, 465, 517.5, ..., die 1: 693.5, 696, 748.5, ...
        //   The 20 blocks take the 20 smallest: 11 on die 0 (last 707.5), 7 on die 2 (727.5), 2 on die 1 (696).
        assertEquals(List.of(new ExpertAssignment(0, 0, 550), new ExpertAssignment(0, 1, 100),
                new ExpertAssignment(0, 2, 350), new ExpertAssignment(1, 1, 20), new ExpertAssignment(3, 3, 30)),
                r.assignments());
        assertArrayEquals(new double[] {707.5, 696, 727.5, 231.5}, r.dieNs(), 1e-6);
        assertArrayEquals(new int[] {550, 120, 350, 30}, r.dieTokens());
        assertEquals(450, r.remoteTokens());
        assertEquals(2, r.remoteHops(), "two pieces of expert 0, each one hop from die 0");
        assertEquals(550, r.maxDieTokens());
        assertEquals(1050 / 4.0, r.meanDieTokens(), 1e-12);
        assertEquals(1050, r.totalTokens());
        assertEquals(727.5, r.maxDieNs(), 1e-6);
    }

    @Test
    void aNeighbourWithTheExpertInItsLlcIsCostedAsAnLlcHitNotARemoteFetch() {
        // TINY's 3 MB expert fits a 64 MB LLC; hit 100 ns instead of the 230 ns fetch.
        HardwareConfig hw = new HardwareConfig("tiny-llc", 2, 2, 6e15, 1_000_000_000L, 3e13, 3e13, 130,
                64L << 20, 100, 110, 30, 0, 0, 0);
        TaskAllocator allocator = new TaskAllocator(Mesh.of(hw), new DieCostModel(hw), TaskAllocator.Mode.PAPER);
        ExpertDistributionTable table = ExpertDistributionTable.even(TINY, 4);
        int[] tokens = {1000, 0, 0, 0};
        AllocationResult cold = allocator.allocate(TINY, table, 0, tokens);
        AllocationResult warm = allocator.allocate(TINY, table, 0, tokens, (layer, expert, die) -> die == 2);
        // With die 2 warm its pieces are not remote and it starts 130 ns earlier, so it takes more blocks.
        int coldOn2 = cold.dieTokens()[2];
        int warmOn2 = warm.dieTokens()[2];
        assertTrue(warmOn2 > coldOn2, "warm " + warmOn2 + " vs cold " + coldOn2);
        assertEquals(cold.dieTokens()[1] + coldOn2, cold.remoteTokens());
        assertEquals(warm.dieTokens()[1], warm.remoteTokens(), "only die 1 fetches over the mesh");
        assertEquals(1, warm.remoteHops());
        assertTrue(warm.maxDieNs() < cold.maxDieNs());
    }

    @Test
    void everyTokenOnceOnAHolderOrItsNeighbourInBlocksOfFifty() {
        for (TaskAllocator.Mode mode : TaskAllocator.Mode.values()) {
            everyTokenOnce(mode);
        }
    }

    private static void everyTokenOnce(TaskAllocator.Mode mode) {
        Random random = new Random(7);
        for (String preset : HardwareConfig.PRESETS) {
            HardwareConfig hw = HardwareConfig.load(preset);
            Mesh mesh = Mesh.of(hw);
            TaskAllocator allocator = new TaskAllocator(mesh, new DieCostModel(hw), mode);
            for (ModelShape model : ModelCatalog.standard().all().values()) {
                ExpertDistributionTable table = ExpertDistributionTable.even(model, mesh.dies());
                for (int i = 0; i < 20; i++) { // some experts get replicas, so some have several holders
                    table.replicate(1, random.nextInt(model.numExperts()), random.nextInt(mesh.dies()));
                }
                for (int layer = 0; layer < 2; layer++) {
                    int[] tokens = skewedLayer(random, model.numExperts(), 1 + random.nextInt(16384) * model.topK());
                    tokens[random.nextInt(tokens.length)] = 0;
                    checkInvariants(model, table, layer, mesh, tokens, allocator.allocate(model, table, layer, tokens));
                }
            }
        }
    }

    private static void checkInvariants(ModelShape model, ExpertDistributionTable table, int layer, Mesh mesh,
                                        int[] tokens, AllocationResult r) {
        int[] perExpert = new int[model.numExperts()];
        int[] piecesOff50 = new int[model.numExperts()];
        int[] pieces = new int[model.numExperts()];
        int[] dieTokens = new int[mesh.dies()];
        int remote = 0;
        for (int i = 0; i < r.size(); i++) {
            int e = r.expert(i);
            int die = r.die(i);
            if (i > 0) { // sorted by expert then die, one row per (expert, die): blocks were merged
                assertTrue(r.expert(i - 1) < e || (r.expert(i - 1) == e && r.die(i - 1) < die), "order at " + i);
            }
            assertTrue(r.tokens(i) > 0);
            int hops = mesh.hops(die, table.nearestHolder(layer, e, die, mesh));
            assertTrue(hops <= 1, "expert " + e + " on die " + die + " is " + hops + " hops from its holders");
            if (hops == 1) {
                remote += r.tokens(i);
            }
            perExpert[e] += r.tokens(i);
            pieces[e]++;
            if (r.tokens(i) % TaskAllocator.BLOCK_TOKENS != 0) {
                piecesOff50[e]++;
                assertEquals(tokens[e] % TaskAllocator.BLOCK_TOKENS, r.tokens(i) % TaskAllocator.BLOCK_TOKENS);
            }
            dieTokens[die] += r.tokens(i);
        }
        for (int e = 0; e < tokens.length; e++) {
            assertEquals(tokens[e], perExpert[e], "tokens of expert " + e);
            // After merging, every piece is whole blocks except the one that got the short last block.
            assertEquals(tokens[e] % TaskAllocator.BLOCK_TOKENS == 0 ? 0 : 1, piecesOff50[e], "expert " + e);
            assertTrue(pieces[e] <= TaskAllocator.maxSplit(tokens[e]), "expert " + e + " split " + pieces[e]);
        }
        assertArrayEquals(dieTokens, r.dieTokens());
        assertEquals(remote, r.remoteTokens());
    }

    @Test
    void balancesASkewedLayerBetterThanEpAndIsDeterministic() {
        HardwareConfig hw = HardwareConfig.load("dojo-5x5");
        DieCostModel cost = new DieCostModel(hw);
        ModelShape model = ModelCatalog.DEEPSEEK_V3;
        int[] tokens = skewedLayer(new Random(1), model.numExperts(), 16384 * model.topK());
        // EP: every expert's work on its home die.
        double[] epNs = new double[25];
        int[] epTokens = new int[25];
        for (int e = 0; e < tokens.length; e++) {
            int home = EvenPlacement.homeDie(e, model.numExperts(), 25);
            epNs[home] += cost.computeNs(model, tokens[e]);
            epTokens[home] += tokens[e];
        }
        ExpertDistributionTable table = ExpertDistributionTable.even(model, 25);
        TaskAllocator allocator = new TaskAllocator(Mesh.of(hw), cost, TaskAllocator.Mode.PAPER);
        AllocationResult r = allocator.allocate(model, table, 0, tokens);
        double epMaxNs = java.util.Arrays.stream(epNs).max().orElseThrow();
        int epMaxTokens = java.util.Arrays.stream(epTokens).max().orElseThrow();
        assertTrue(r.maxDieNs() < 0.8 * epMaxNs, "allocator " + r.maxDieNs() + " ns vs EP " + epMaxNs);
        assertTrue(r.maxDieTokens() < epMaxTokens, "allocator " + r.maxDieTokens() + " tokens vs EP " + epMaxTokens);
        // Same input, same plan: on a reused allocator (scratch state) and on a fresh one.
        allocator.allocate(model, table, 1, skewedLayer(new Random(2), model.numExperts(), 999));
        assertEquals(r.assignments(), allocator.allocate(model, table, 0, tokens).assignments());
        assertEquals(r.assignments(), new TaskAllocator(Mesh.of(hw), cost, TaskAllocator.Mode.PAPER).allocate(model, table, 0, tokens)
                .assignments());
    }

    @Test
    void aSingleDieMeshKeepsEverythingLocal() {
        HardwareConfig hw = new HardwareConfig("one", 1, 1, 989e12, 80_000_000_000L, 3.35e12, 1.7e12, 200, 0, 0, 0,
                0, 0, 0, 0);
        ModelShape model = ModelCatalog.LLAMA4_MAVERICK;
        int[] tokens = skewedLayer(new Random(3), model.numExperts(), 4096);
        AllocationResult r = new TaskAllocator(Mesh.of(hw), new DieCostModel(hw))
                .allocate(model, ExpertDistributionTable.even(model, 1), 5, tokens);
        assertEquals(4096, r.dieTokens()[0]);
        assertEquals(0, r.remoteTokens());
    }

    @Test
    void rejectsInputThatDoesNotMatchTheModelOrMesh() {
        HardwareConfig hw = HardwareConfig.load("dojo-5x5");
        TaskAllocator allocator = new TaskAllocator(Mesh.of(hw), new DieCostModel(hw));
        ModelShape model = ModelCatalog.QWEN3_235B;
        ExpertDistributionTable table = ExpertDistributionTable.even(model, 25);
        assertThrows(IllegalArgumentException.class, () -> allocator.allocate(model, table, 0, new int[127]));
        int[] negative = new int[128];
        negative[3] = -1;
        assertThrows(IllegalArgumentException.class, () -> allocator.allocate(model, table, 0, negative));
        assertThrows(IllegalArgumentException.class,
                () -> allocator.allocate(model, ExpertDistributionTable.even(model, 24), 0, new int[128]));
        assertThrows(IllegalArgumentException.class, () -> allocator.allocate(model, table, 94, new int[128]));
        assertEquals(0, allocator.allocate(model, table, 0, new int[128]).size());
    }

    @Test
    void maxSplitGrowsOnePiecePerComputeBoundChunk() {
        assertEquals(1, TaskAllocator.maxSplit(1));
        assertEquals(1, TaskAllocator.maxSplit(295));
        assertEquals(2, TaskAllocator.maxSplit(296));
        assertEquals(4, TaskAllocator.maxSplit(1000));
    }

    /** A Zipf-like layer: {@code selections} token-expert picks over experts of random popularity. */
    static int[] skewedLayer(Random random, int experts, int selections) {
        double[] weight = new double[experts];
        double sum = 0;
        for (int e = 0; e < experts; e++) {
            weight[e] = 1.0 / Math.pow(1 + random.nextInt(experts), 0.9);
            sum += weight[e];
        }
        int[] tokens = new int[experts];
        int given = 0;
        for (int e = 0; e < experts; e++) {
            tokens[e] = (int) Math.floor(selections * weight[e] / sum);
            given += tokens[e];
        }
        for (int i = 0; given < selections; i++, given++) {
            tokens[random.nextInt(experts)]++;
        }
        return tokens;
    }

    /**
     * Speed work must not change a plan: a digest of 360 plans (three meshes, three models, loads
     * from 2 to 24,000 tokens per expert, replicas, LLC residency), every row and every die's planned
     * ns to the bit, as the allocator of commit 22795ba computed them.
     */
    @Test
    void plansAreBitIdenticalToTheReferenceDigest() {
        long h = 17;
        for (String mesh : new String[] {"dojo-5x5", "tsmc-sow-8x3", "dojo-enhanced"}) {
            HardwareConfig hw = HardwareConfig.load(mesh);
            TaskAllocator allocator = new TaskAllocator(Mesh.of(hw), new DieCostModel(hw), TaskAllocator.Mode.PAPER);
            for (ModelShape model : new ModelShape[] {ModelCatalog.DEEPSEEK_V3, ModelCatalog.QWEN3_235B,
                    ModelCatalog.LLAMA4_MAVERICK}) {
                Random random = new Random(2510_05497L);
                ExpertDistributionTable table = ExpertDistributionTable.even(model, hw.dies());
                for (int i = 0; i < 40; i++) {
                    int layer = random.nextInt(model.numMoeLayers());
                    if (i % 10 == 5) {
                        for (int j = 0; j < 30; j++) {
                            table.replicate(layer, random.nextInt(model.numExperts()), random.nextInt(hw.dies()));
                        }
                    }
                    int[] counts = new int[model.numExperts()];
                    int scale = new int[] {2, 40, 400, 4000}[i % 4];
                    double skew = 0.5 + random.nextDouble();
                    for (int e = 0; e < counts.length; e++) {
                        counts[e] = (int) (scale * Math.pow(random.nextDouble(), 1 / (1 - skew / 2))
                                * (random.nextInt(4) == 0 ? 6 : 1));
                    }
                    int salt = i;
                    LlcResidency llc = i % 3 == 0 ? LlcResidency.NONE : (l, e, d) -> (e * 31 + d * 7 + l + salt) % 5 == 0;
                    AllocationResult r = allocator.allocate(model, table, layer, counts, llc);
                    for (int row = 0; row < r.size(); row++) {
                        h = h * 31 + r.expert(row);
                        h = h * 31 + r.die(row);
                        h = h * 31 + r.tokens(row);
                    }
                    for (double ns : r.dieNs()) {
                        h = h * 31 + Double.doubleToLongBits(ns);
                    }
                    h = h * 31 + r.remoteTokens();
                    h = h * 31 + r.remoteHops();
                }
            }
        }
        assertEquals(8976646897161502632L, h);
    }
}
