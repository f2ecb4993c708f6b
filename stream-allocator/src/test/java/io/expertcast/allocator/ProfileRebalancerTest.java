package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.core.placement.HbmCapacity;
import io.expertcast.core.placement.PlacementMove;
import io.expertcast.core.placement.PlacementPolicies;
import io.expertcast.core.placement.WorkloadProfiles;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PlacementAction;
import io.expertcast.schemas.PlacementCommand;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WorkloadProfile;
import io.expertcast.streams.StreamsSettings;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Insight 6 in the allocator topology: workload profiles per tag turn into bounded PlacementCommands
 * when a tag's traffic starts and on the wall-clock schedule; the commands go through the command
 * applier onto moe.placement (the test driver feeds the topology's own outputs on
 * moe.placement-commands and moe.placement back to it, as the broker does).
 */
class ProfileRebalancerTest {
    private static final ModelShape DEEPSEEK = ModelCatalog.DEEPSEEK_V3;
    private static final int LAYERS = DEEPSEEK.numMoeLayers();
    private static final long PERIOD_MS = 600_000;
    private static final HardwareConfig HW = HardwareConfig.load("dojo-5x5");
    private static final int SLOTS = HbmCapacity.slotsPerDiePerLayer(HW, DEEPSEEK);
    private static final int REDUNDANT = (SLOTS - 1) * HW.dies() - DEEPSEEK.numExperts();

    @TempDir
    Path stateDir;

    private AllocatorDriver topology;
    private long passId;

    private void start(int maxMovesPerLayer) {
        start(maxMovesPerLayer, TagStateLimits.DEFAULT);
    }

    private void start(int maxMovesPerLayer, TagStateLimits limits) {
        AllocatorSettings settings = new AllocatorSettings(ModelCatalog.standard(), HW, "profiles-test",
                new ProfileRebalancing("hot-replicate", PERIOD_MS, maxMovesPerLayer, 0.999)).withTagLimits(limits);
        topology = AllocatorDriver.start(settings, stateDir);
    }

    @AfterEach
    void stop() {
        if (topology != null) {
            topology.close();
        }
    }

    @Test
    void aNewTagsTrafficYieldsCommandsBoundedPerLayerThatCarryTheirBytesAndAreApplied() {
        start(4);
        int[][] counts = onePass("mmlu", "anatomy", "en", 0, 200);
        List<KeyValue<String, PlacementCommand>> sent = topology.commands().readKeyValuesToList();
        assertFalse(sent.isEmpty(), "the tag's first traffic re-places experts");

        // Exactly what the core computes from the tag's first observation, on the even table.
        ExpertDistributionTable table = ExpertDistributionTable.even(DEEPSEEK, HW.dies());
        List<PlacementMove> expected = WorkloadProfiles.rebalance(asLoad(counts), table,
                PlacementPolicies.byName("hot-replicate"), REDUNDANT, 4, SLOTS, DEEPSEEK.expertBytes(), Mesh.of(HW));
        assertEquals(expected.size(), sent.size());
        int[] movedPerLayer = new int[LAYERS];
        for (int i = 0; i < sent.size(); i++) {
            PlacementMove m = expected.get(i);
            PlacementCommand c = sent.get(i).value;
            assertEquals(AllocatorTopology.placementKey(DEEPSEEK.id(), m.layer(), m.expert()), sent.get(i).key);
            assertEquals(m.action().name(), c.getAction().name());
            assertEquals(m.layer(), c.getLayer());
            assertEquals(m.expert(), c.getExpert());
            assertEquals(m.toDie(), c.getToDie());
            if (c.getAction() == PlacementAction.EVICT) {
                assertEquals(0L, c.getBytes());
            } else {
                assertEquals(DEEPSEEK.expertBytes(), c.getBytes(), "a moved expert carries its weights");
                movedPerLayer[c.getLayer()]++;
            }
            assertTrue(c.getReason().contains("mmlu/anatomy/en") && c.getReason().contains("starts"), c.getReason());
        }
        // hot-replicate wants REDUNDANT replicas per layer from the even table: the budget binds everywhere.
        for (int layer = 0; layer < LAYERS; layer++) {
            assertEquals(4, movedPerLayer[layer], "layer " + layer);
        }
        // The applier took every command: one row each on moe.placement, no dead letter.
        assertTrue(topology.deadLetters().isEmpty());
        List<PlacementEntry> rows = topology.placement().readValuesToList();
        assertEquals(table, tableOf(rows));

        // The profile is in the changelogged store.
        KeyValueStore<String, WorkloadProfile> store = topology.driver().getKeyValueStore(AllocatorTopology.WORKLOAD_PROFILES_STORE);
        WorkloadProfile profile = store.get("deepseek-v3/mmlu/anatomy/en");
        assertEquals(1L, profile.getObservations());
        assertEquals(counts[5][17], ProfileRebalancer.unpack(profile.getLoad(), LAYERS, 256)[5][17], 0);
    }

    @Test
    void theScheduleReappliesTheProfileWithinTheBudgetUntilThePlacementIsWhatThePolicyWants() {
        start(30);
        onePass("mmlu", "anatomy", "en", 0, 200);
        List<PlacementCommand> first = topology.commands().readValuesToList();
        assertFalse(first.isEmpty());
        assertTrue(maxMovedPerLayer(first) <= 30);
        // Same tag again within the period: not a start, nothing sent.
        onePass("mmlu", "anatomy", "en", 0, 200);
        assertTrue(topology.commands().isEmpty());

        // Each scheduled rebalance moves up to 30 experts per layer toward the target (69 replicas per layer).
        int rounds = 0;
        List<PlacementCommand> sent;
        do {
            topology.driver().advanceWallClockTime(Duration.ofMillis(PERIOD_MS));
            sent = topology.commands().readValuesToList();
            assertTrue(maxMovedPerLayer(sent) <= 30, "budget per layer");
            sent.forEach(c -> assertTrue(c.getReason().endsWith("schedule)"), c.getReason()));
            rounds++;
            // The tag stays active: one pass per period.
            onePass("mmlu", "anatomy", "en", 0, 200);
            assertTrue(topology.commands().isEmpty(), "no start within the period");
        } while (!sent.isEmpty() && rounds < 10);
        assertTrue(rounds >= 3, "69 replicas per layer at 30 per rebalance take at least three rounds: " + rounds);
        assertTrue(sent.isEmpty(), "the placement reached what the policy wants");
        assertTrue(topology.deadLetters().isEmpty(), "no command was sent twice or against a stale table");

        // Once the tag is silent for more than a period, the schedule has nothing to place.
        topology.driver().advanceWallClockTime(Duration.ofMillis(2 * PERIOD_MS + 1));
        assertTrue(topology.commands().isEmpty());
    }

    @Test
    void nothingIsSentWhenThePlacementIsAlreadyWhatThePolicyWants() {
        start(1000);
        onePass("mmlu", "anatomy", "en", 0, 200);
        List<PlacementCommand> first = topology.commands().readValuesToList();
        assertEquals(REDUNDANT * LAYERS, first.size(), "an unbounded budget reaches the target in one go");
        topology.driver().advanceWallClockTime(Duration.ofMillis(PERIOD_MS));
        assertTrue(topology.commands().isEmpty(), "the schedule finds the placement the policy wants");
        assertTrue(topology.deadLetters().isEmpty());
    }

    @Test
    void aSecondTagsStartReplacesForTheMixAndASilentTagStartsAgainWithItsLearnedProfile() {
        start(4);
        onePass("mmlu", "anatomy", "en", 0, 200);
        assertFalse(topology.commands().readValuesToList().isEmpty());
        // A tag's start re-places at most once per model per gap (TagStateLimits, default 1 min).
        topology.driver().advanceWallClockTime(TagStateLimits.DEFAULT_MIN_TAG_START_GAP);
        // Chinese traffic favours other experts (Ob4): its start re-places for the mix of both tags.
        onePass("cmmlu", "anatomy", "zh", 128, 200);
        List<PlacementCommand> zh = topology.commands().readValuesToList();
        assertFalse(zh.isEmpty());
        zh.forEach(c -> assertTrue(c.getReason().startsWith("workload profile of cmmlu/anatomy/zh, mmlu/anatomy/en")
                && c.getReason().contains("traffic of cmmlu/anatomy/zh starts"), c.getReason()));
        assertTrue(maxMovedPerLayer(zh) <= 4);

        // Both silent for longer than a period, then English returns: a start again.
        topology.driver().advanceWallClockTime(Duration.ofMillis(PERIOD_MS));
        topology.commands().readValuesToList();
        topology.driver().advanceWallClockTime(Duration.ofMillis(PERIOD_MS + 1));
        assertTrue(topology.commands().isEmpty(), "nothing active, nothing placed");
        onePass("mmlu", "anatomy", "en", 0, 200);
        List<PlacementCommand> back = topology.commands().readValuesToList();
        back.forEach(c -> assertTrue(c.getReason().startsWith("workload profile of mmlu/anatomy/en (")
                && c.getReason().contains("starts"), c.getReason()));
        assertTrue(topology.deadLetters().isEmpty());
    }

    /**
     * Issue 19 item 4: 500 distinct tags keep at most the configured number of profiles (the least
     * recently seen evicted from memory and store, counted) and trigger at most one re-placement per gap.
     */
    @Test
    void fiveHundredTagsKeepABoundedStateAndTriggerBoundedCommands() {
        start(4, new TagStateLimits(16, Duration.ofHours(6), Duration.ofMinutes(1)));
        for (int i = 0; i < 500; i++) {
            onePass("bench" + i, "subject", "en", i % 200, 20);
        }
        KeyValueStore<String, WorkloadProfile> store = topology.driver().getKeyValueStore(AllocatorTopology.WORKLOAD_PROFILES_STORE);
        List<String> kept = new java.util.ArrayList<>();
        try (var all = store.all()) {
            all.forEachRemaining(kv -> kept.add(kv.key));
        }
        assertEquals(16, kept.size(), "at most 16 profiles per model: " + kept);
        assertTrue(kept.contains("deepseek-v3/bench499/subject/en"), "the most recent tags are kept: " + kept);
        assertFalse(kept.contains("deepseek-v3/bench0/subject/en"));
        List<PlacementCommand> sent = topology.commands().readValuesToList();
        assertTrue(maxMovedPerLayer(sent) <= 4, "one tag-start re-placement within the minute, not 500: "
                + sent.size() + " commands");
        // The evictions are counted and logged at the schedule; the TTL evicts tags unseen for 6 h.
        topology.driver().advanceWallClockTime(Duration.ofHours(7));
        try (var all = store.all()) {
            assertFalse(all.hasNext(), "every tag unseen for 6 h is evicted");
        }
    }

    private static int maxMovedPerLayer(List<PlacementCommand> sent) {
        Map<Integer, Integer> perLayer = new HashMap<>();
        sent.stream().filter(c -> c.getAction() != PlacementAction.EVICT).forEach(c -> perLayer.merge(c.getLayer(), 1, Integer::sum));
        return perLayer.values().stream().mapToInt(Integer::intValue).max().orElse(0);
    }

    private static double[][] asLoad(int[][] counts) {
        double[][] load = new double[counts.length][];
        for (int l = 0; l < counts.length; l++) {
            load[l] = java.util.Arrays.stream(counts[l]).asDoubleStream().toArray();
        }
        return load;
    }

    private static ExpertDistributionTable tableOf(List<PlacementEntry> rows) {
        ExpertDistributionTable t = ExpertDistributionTable.even(DEEPSEEK, HW.dies());
        for (PlacementEntry r : rows) {
            t.set(r.getLayer(), r.getExpert(), r.getHomeDie(), r.getReplicaDies().stream().mapToInt(Integer::intValue).toArray());
        }
        return t;
    }

    /**
     * One pass of one request of {@code tokens} decode-like tokens whose experts cluster around
     * {@code hotBase} (8 distinct per token and layer), tagged; returns its counts [layer][expert]. A
     * tag's passes are all alike, so its decayed profile keeps its shape and the policy's target stays.
     */
    private int[][] onePass(String benchmark, String subject, String language, int hotBase, int tokens) {
        long id = passId++;
        Random random = new Random((benchmark + subject + language).hashCode());
        int[] ids = new int[tokens * LAYERS * DEEPSEEK.topK()];
        int[][] counts = new int[LAYERS][DEEPSEEK.numExperts()];
        for (int t = 0; t < tokens; t++) {
            for (int layer = 0; layer < LAYERS; layer++) {
                int first = hotBase + random.nextInt(random.nextInt(4) == 0 ? 256 : 24);
                for (int slot = 0; slot < DEEPSEEK.topK(); slot++) {
                    int e = (first + 29 * slot) % DEEPSEEK.numExperts();
                    ids[ExpertIds.index(t, layer, slot, LAYERS, DEEPSEEK.topK())] = e;
                    counts[layer][e]++;
                }
            }
        }
        String request = benchmark + "-" + id;
        SelectionEvent event = SelectionEvent.newBuilder().setModel(DEEPSEEK.id()).setRequestId(request).setStep(0)
                .setPhase(Phase.PREFILL).setTokenOffset(0).setTokenCount(tokens).setPassId(id).setBatchTokenOffset(0)
                .setNumMoeLayers(LAYERS).setTopK(DEEPSEEK.topK()).setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids)))
                .setBenchmark(benchmark).setSubject(subject).setLanguage(language).setEventTimeMs(1000L).build();
        topology.selections().pipeInput(request, event);
        topology.passes().pipeInput(DEEPSEEK.id(), new ForwardPass(DEEPSEEK.id(), id, List.of(new PassEntry(request, 0, tokens)),
                tokens, 0, 1000L, ""));
        return counts;
    }
}
