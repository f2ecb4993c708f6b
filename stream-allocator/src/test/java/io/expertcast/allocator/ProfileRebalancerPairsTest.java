package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.CoActivation;
import io.expertcast.core.placement.DecayedPairCounts;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.core.placement.HbmCapacity;
import io.expertcast.core.placement.PlacementPolicies;
import io.expertcast.core.placement.WorkloadProfiles;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PairCounts;
import io.expertcast.schemas.PairObservation;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PlacementCommand;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Insight 5 live: the allocator counts the co-activations of the passes it assembles, keeps them per
 * model and MoE layer decayed in changelogged stores, and a pair-separate re-placement places with
 * them, so two experts that are always selected together end on different dies.
 */
class ProfileRebalancerPairsTest {
    private static final ModelShape DEEPSEEK = ModelCatalog.DEEPSEEK_V3;
    private static final int LAYERS = DEEPSEEK.numMoeLayers();
    private static final int EXPERTS = DEEPSEEK.numExperts();
    private static final int K = DEEPSEEK.topK();
    private static final long PERIOD_MS = 600_000;
    private static final double DECAY = 0.999;
    private static final HardwareConfig HW = HardwareConfig.load("dojo-5x5");
    private static final int SLOTS = HbmCapacity.slotsPerDiePerLayer(HW, DEEPSEEK);
    private static final int REDUNDANT = (SLOTS - 1) * HW.dies() - EXPERTS;
    /** Selected together by every eighth token and never apart. */
    private static final int A = 3;
    private static final int B = 200;
    /** No more than a pair observation carries: every token counted. */
    private static final int TOKENS = PairObservations.MAX_TOKENS_PER_PASS;
    /** A larger batch: its pairs are counted on every fourth token (weight 4), A and B's among them. */
    private static final int BATCH = 200;

    @TempDir
    Path stateDir;

    private AllocatorDriver topology;
    private long passId;

    private void start(String policy, int maxMovesPerLayer) {
        AllocatorSettings settings = new AllocatorSettings(ModelCatalog.standard(), HW, "pairs-test",
                new ProfileRebalancing(policy, PERIOD_MS, maxMovesPerLayer, DECAY));
        topology = AllocatorDriver.start(settings, stateDir);
    }

    @AfterEach
    void stop() {
        if (topology != null) {
            topology.close();
        }
    }

    @Test
    void coSelectedExpertsEndOnDifferentDiesWhereThePlacementWithoutPairCountsKeepsThemTogether() {
        start("pair-separate", 1000);
        int[] ids = pass(BATCH);
        double[] load = load(ids, BATCH);
        // What the same re-placement does without pair counts: A and B share dies.
        ExpertDistributionTable withoutPairs = ExpertDistributionTable.even(DEEPSEEK, HW.dies());
        WorkloadProfiles.rebalance(repeat(load), withoutPairs, PlacementPolicies.byName("pair-separate"), REDUNDANT,
                1000, SLOTS, DEEPSEEK.expertBytes(), Mesh.of(HW));
        assertTrue(sharedDies(withoutPairs, 0) > 0, "the test's load keeps A and B together without pair counts");

        for (int i = 1; i < 4; i++) {
            pass(BATCH);
        }
        // The schedule re-places for the profile and the pair counts of the passes so far.
        topology.driver().advanceWallClockTime(Duration.ofMillis(PERIOD_MS));
        List<PlacementCommand> sent = topology.commands().readValuesToList();
        assertTrue(sent.stream().anyMatch(c -> c.getReason().contains("and pair counts")),
                "a re-placement used the pair counts");
        ExpertDistributionTable table = tableOf(topology.placement().readValuesToList());
        for (int layer = 0; layer < LAYERS; layer++) {
            assertEquals(0, sharedDies(table, layer), "layer " + layer + ": A and B on different dies");
        }
        assertTrue(topology.deadLetters().isEmpty());
    }

    @Test
    void otherPoliciesKeepNoPairCounts() {
        start("hot-replicate", 4);
        pass(TOKENS);
        assertThrowsNoStore(AllocatorTopology.PAIR_COUNTS_STORE);
        assertThrowsNoStore(AllocatorTopology.PAIR_PENDING_STORE);
        assertFalse(topology.commands().readValuesToList().stream().anyMatch(c -> c.getReason().contains("pair counts")));
    }

    /** Bad input as before: a selection of the wrong shape goes to the dead letters, nothing of it is counted. */
    @Test
    void aSelectionOfTheWrongShapeIsADeadLetterAndNotCounted() {
        start("pair-separate", 4);
        int layers = LAYERS - 1;
        SelectionEvent bad = SelectionEvent.newBuilder().setModel(DEEPSEEK.id()).setRequestId("bad").setStep(0)
                .setPhase(Phase.PREFILL).setTokenOffset(0).setTokenCount(1).setPassId(99L).setBatchTokenOffset(0)
                .setNumMoeLayers(layers).setTopK(K).setExpertIds(ByteBuffer.wrap(ExpertIds.pack(new int[layers * K])))
                .setEventTimeMs(1000L).build();
        topology.selections().pipeInput("bad", bad);
        topology.passes().pipeInput(DEEPSEEK.id(), new ForwardPass(DEEPSEEK.id(), 99L, List.of(new PassEntry("bad", 0, 1)), 1, 0,
                1000L, ""));
        List<DeadLetter> letters = topology.deadLetters().readValuesToList();
        assertEquals(1, letters.size(), "a selection of 57 MoE layers for a model of 58: " + letters);
        KeyValueStore<String, PairObservation> pending = topology.driver().getKeyValueStore(AllocatorTopology.PAIR_PENDING_STORE);
        assertEquals(0, count(pending), "its pass never completes, nothing is counted");
        pass(TOKENS);
        assertEquals(1, count(pending), "a good pass afterwards is counted");
    }

    /**
     * The stores hold the decayed counts the core computes from the same tokens (snapshot every 64
     * passes, the passes since in the pending log), and a keeper rebuilt from the stores, as a
     * restarted task's init does, has exactly those counts.
     */
    @Test
    void theStoresHoldTheDecayedCountsAndARestartRebuildsThemExactly() {
        start("pair-separate", 4);
        DecayedPairCounts expected = new DecayedPairCounts(LAYERS, EXPERTS, DECAY);
        int passesRun = PairCountKeeper.SNAPSHOT_EVERY_PASSES + 5;
        CoActivation counter = new CoActivation(EXPERTS);
        for (int i = 0; i < passesRun; i++) {
            int[] ids = pass(TOKENS);
            observePass(expected, counter, ids, LAYERS, TOKENS, K);
        }
        KeyValueStore<String, PairCounts> snapshots = topology.driver().getKeyValueStore(AllocatorTopology.PAIR_COUNTS_STORE);
        KeyValueStore<String, PairObservation> pending = topology.driver().getKeyValueStore(AllocatorTopology.PAIR_PENDING_STORE);
        PairCounts layer0 = snapshots.get(DEEPSEEK.id() + "/0");
        assertNotNull(layer0, "a snapshot after 64 passes");
        assertEquals(PairCountKeeper.SNAPSHOT_EVERY_PASSES, layer0.getObservations());
        // The decayed count of A and B after 64 identical passes: 8 per pass x (1 - 0.999^64) / 0.001.
        int perPass = TOKENS / 8;
        DecayedPairCounts snapshot = new DecayedPairCounts(LAYERS, EXPERTS, DECAY);
        snapshot.restore(0, layer0.getCounts(), layer0.getScale());
        assertEquals(perPass * (1 - Math.pow(DECAY, 64)) / (1 - DECAY), snapshot.count(0, A, B), 1e-3);
        assertEquals(5L, count(pending), "the passes since the snapshot are pending");

        PairCountKeeper restarted = new PairCountKeeper(ModelCatalog.standard(), DECAY, snapshots, pending);
        DecayedPairCounts rebuilt = restarted.counts(DEEPSEEK.id()).orElseThrow();
        for (int layer = 0; layer < LAYERS; layer++) {
            assertEquals(passesRun, restarted.observations(DEEPSEEK.id(), layer));
            assertEquals(expected.pack(layer), rebuilt.pack(layer), "layer " + layer + " bit for bit");
        }
        assertEquals(perPass * (1 - Math.pow(DECAY, passesRun)) / (1 - DECAY), rebuilt.count(7, A, B), 1e-3);
        assertEquals(0, rebuilt.count(7, A, A + 1), "never selected together");
    }

    /**
     * The largest records the allocator writes stay well under Kafka's 1 MB default max message size
     * whatever the batch: a pass of 4 x 64 tokens carries every fourth token, each weighing 4.
     */
    @Test
    void recordsStayWellUnderAMegabyteWhateverTheBatch() {
        var observationSerde = SerdeFactory.defaultFactory().serde(PairObservation.class);
        var countsSerde = SerdeFactory.defaultFactory().serde(PairCounts.class);
        for (ModelShape model : ModelCatalog.standard().all().values()) {
            if (model.topK() < 2) {
                assertFalse(PairObservations.fits(model), model.id() + " has no pairs");
                continue;
            }
            assertTrue(PairObservations.fits(model), model.id());
            int e = model.numExperts();
            int k = model.topK();
            int tokens = 4 * PairObservations.MAX_TOKENS_PER_PASS;
            Random random = new Random(e);
            List<int[]> selected = new ArrayList<>();
            CoActivation sampled = new CoActivation(e);
            for (int t = 0; t < tokens; t++) {
                int[] token = random.ints(0, e).distinct().limit(k).toArray();
                selected.add(token);
                if (t % 4 == 0) {
                    sampled.addToken(token, 0, k);
                }
            }
            PairObservation o = PairObservations.of(model, completedPass(model, selected)).orElseThrow();
            assertEquals(PairObservations.MAX_TOKENS_PER_PASS, o.getTokens());
            assertEquals(4, o.getWeight());
            CoActivation counted = new CoActivation(e);
            PairObservations.count(o, model.numMoeLayers() - 1, counted, new int[k]);
            assertEquals(sampled.distinctPairs(), counted.distinctPairs(), model.id() + ": the pairs of every fourth token");
            for (int p = 0; p < sampled.distinctPairs(); p++) {
                assertEquals(sampled.count(sampled.cell(p)), counted.count(sampled.cell(p)));
            }
            byte[] observation = observationSerde.serializer().serialize("t", o);
            assertTrue(observation.length <= PairObservations.maxIdBytes(model) + 256 && observation.length < 100_000,
                    model.id() + ": the largest observation takes " + observation.length + " bytes");

            DecayedPairCounts decayed = new DecayedPairCounts(model.numMoeLayers(), e, DECAY);
            decayed.observe(0, new int[0], new long[0], 0);
            byte[] stored = countsSerde.serializer().serialize("t", new PairCounts(model.id(), 0, e, decayed.pack(0), 1.0, 1L, 0L));
            assertTrue(stored.length < 300_000, model.id() + ": counts record " + stored.length + " bytes");
        }
    }

    private void assertThrowsNoStore(String name) {
        org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> {
            if (topology.driver().getKeyValueStore(name) == null) {
                throw new IllegalStateException("no store " + name);
            }
        });
    }

    /** Counts a pass's co-activations ({@code tokens} x [layer][k] ids) into {@code expected}, layer by layer. */
    static void observePass(DecayedPairCounts expected, CoActivation counter, int[] ids, int layers, int tokens, int k) {
        for (int layer = 0; layer < layers; layer++) {
            counter.clear();
            for (int t = 0; t < tokens; t++) {
                counter.addToken(ids, ExpertIds.index(t, layer, 0, layers, k), k);
            }
            int n = counter.distinctPairs();
            int[] cells = new int[n];
            long[] counts = new long[n];
            for (int p = 0; p < n; p++) {
                cells[p] = counter.cell(p);
                counts[p] = counter.count(cells[p]);
            }
            expected.observe(layer, cells, counts, n);
        }
    }

    private static long count(KeyValueStore<String, ?> store) {
        try (var all = store.all()) {
            long n = 0;
            while (all.hasNext()) {
                all.next();
                n++;
            }
            return n;
        }
    }

    /** Dies of {@code layer} holding both A and B. */
    private static int sharedDies(ExpertDistributionTable table, int layer) {
        int n = 0;
        for (int d = 0; d < table.dies(); d++) {
            if (table.holds(layer, A, d) && table.holds(layer, B, d)) {
                n++;
            }
        }
        return n;
    }

    private static double[] load(int[] ids, int tokens) {
        double[] load = new double[EXPERTS];
        for (int t = 0; t < tokens; t++) {
            for (int s = 0; s < K; s++) {
                load[ids[ExpertIds.index(t, 0, s, LAYERS, K)]]++;
            }
        }
        return load;
    }

    private static double[][] repeat(double[] load) {
        double[][] all = new double[LAYERS][];
        for (int l = 0; l < LAYERS; l++) {
            all[l] = load.clone();
        }
        return all;
    }

    private static ExpertDistributionTable tableOf(List<PlacementEntry> rows) {
        ExpertDistributionTable t = ExpertDistributionTable.even(DEEPSEEK, HW.dies());
        for (PlacementEntry r : rows) {
            t.set(r.getLayer(), r.getExpert(), r.getHomeDie(), r.getReplicaDies().stream().mapToInt(Integer::intValue).toArray());
        }
        return t;
    }

    /**
     * One pass of {@code tokens} tokens, the same in every pass and layer: every eighth token selects A
     * and B, the others 8 experts spread over the rest (never A or B). Returns the ids [token][layer][slot].
     */
    private int[] pass(int tokens) {
        long id = passId++;
        Random random = new Random(1);
        int[] ids = new int[tokens * LAYERS * K];
        int[] token = new int[K];
        for (int t = 0; t < tokens; t++) {
            int n = 0;
            if (t % 8 == 0) {
                token[n++] = A;
                token[n++] = B;
            }
            int first = random.nextInt(EXPERTS);
            for (int s = 0; n < K; s++) {
                int e = (first + 29 * s) % EXPERTS;
                boolean taken = e == A || e == B;
                for (int q = 0; q < n; q++) {
                    taken |= token[q] == e;
                }
                if (!taken) {
                    token[n++] = e;
                }
            }
            for (int layer = 0; layer < LAYERS; layer++) {
                System.arraycopy(token, 0, ids, ExpertIds.index(t, layer, 0, LAYERS, K), K);
            }
        }
        String request = "pairs-" + id;
        SelectionEvent event = SelectionEvent.newBuilder().setModel(DEEPSEEK.id()).setRequestId(request).setStep(0)
                .setPhase(Phase.PREFILL).setTokenOffset(0).setTokenCount(tokens).setPassId(id).setBatchTokenOffset(0)
                .setNumMoeLayers(LAYERS).setTopK(K).setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids)))
                .setBenchmark("mmlu").setSubject("anatomy").setLanguage("en").setEventTimeMs(1000L).build();
        topology.selections().pipeInput(request, event);
        topology.passes().pipeInput(DEEPSEEK.id(), new ForwardPass(DEEPSEEK.id(), id, List.of(new PassEntry(request, 0, tokens)),
                tokens, 0, 1000L, ""));
        return ids;
    }

    /** A completed pass of one request whose tokens select {@code tokens} (the same at every layer). */
    private static io.expertcast.streams.pass.CompletedPass completedPass(ModelShape model, List<int[]> tokens) {
        int layers = model.numMoeLayers();
        int k = model.topK();
        int[] ids = new int[tokens.size() * layers * k];
        for (int t = 0; t < tokens.size(); t++) {
            for (int layer = 0; layer < layers; layer++) {
                System.arraycopy(tokens.get(t), 0, ids, ExpertIds.index(t, layer, 0, layers, k), k);
            }
        }
        SelectionEvent event = SelectionEvent.newBuilder().setModel(model.id()).setRequestId("r").setStep(0)
                .setPhase(Phase.PREFILL).setTokenOffset(0).setTokenCount(tokens.size()).setPassId(0L)
                .setBatchTokenOffset(0).setNumMoeLayers(layers).setTopK(k)
                .setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids))).setEventTimeMs(0L).build();
        ForwardPass pass = new ForwardPass(model.id(), 0L, List.of(new PassEntry("r", 0, tokens.size())),
                tokens.size(), 0, 0L, "");
        return new io.expertcast.streams.pass.CompletedPass(pass, List.of(event), List.of());
    }
}
