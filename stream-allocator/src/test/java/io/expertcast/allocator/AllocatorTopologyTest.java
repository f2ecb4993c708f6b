package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.allocation.AllocationResult;
import io.expertcast.core.allocation.TaskAllocator;
import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.AllocatorMetrics;
import io.expertcast.schemas.Assignment;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PlacementAction;
import io.expertcast.schemas.PlacementCommand;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AllocatorTopologyTest {
    private static final ModelShape DEEPSEEK = ModelCatalog.DEEPSEEK_V3;
    private static final int LAYERS = DEEPSEEK.numMoeLayers();

    @TempDir
    Path stateDir;

    /** Without workload profiles: these tests change the table only by their own commands (see ProfileRebalancerTest). */
    private final AllocatorSettings settings = AllocatorSettings.defaults().withoutRebalancing();
    private final Random random = new Random(42);
    private TopologyTestDriver driver;
    private TestInputTopic<String, SelectionEvent> selections;
    private TestInputTopic<String, ForwardPass> passes;
    private TestOutputTopic<String, AllocationPlan> plans;
    private TestOutputTopic<String, AllocatorMetrics> metrics;
    private TestOutputTopic<String, PlacementEntry> placement;
    private TestOutputTopic<byte[], DeadLetter> deadLetters;
    private TestInputTopic<String, PlacementCommand> commands;
    private TestInputTopic<String, PlacementEntry> placementIn;

    @BeforeEach
    void start() {
        StreamsBuilder builder = new StreamsBuilder();
        AllocatorTopology.build(builder, settings);
        driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base(settings.applicationName(), "unused:9092", stateDir, Map.of()));
        selections = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                Topics.SELECTIONS.valueSerde().serializer());
        passes = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                Topics.PASSES.valueSerde().serializer());
        plans = driver.createOutputTopic(Topics.ALLOCATIONS.name(), new StringDeserializer(),
                Topics.ALLOCATIONS.valueSerde().deserializer());
        metrics = driver.createOutputTopic(Topics.ALLOCATOR_METRICS.name(), new StringDeserializer(),
                Topics.ALLOCATOR_METRICS.valueSerde().deserializer());
        placement = driver.createOutputTopic(Topics.PLACEMENT.name(), new StringDeserializer(),
                Topics.PLACEMENT.valueSerde().deserializer());
        deadLetters = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());
        commands = driver.createInputTopic(Topics.PLACEMENT_COMMANDS.name(), new StringSerializer(),
                Topics.PLACEMENT_COMMANDS.valueSerde().serializer());
        placementIn = driver.createInputTopic(Topics.PLACEMENT.name(), new StringSerializer(),
                Topics.PLACEMENT.valueSerde().serializer());
    }

    private static PlacementCommand command(String model, int layer, int expert, PlacementAction action, int from,
                                            int to) {
        return new PlacementCommand(model, layer, expert, action, from, to, DEEPSEEK.expertBytes(), "test", 5L);
    }

    /** What the broker does between the allocator's sink and its global store: the row comes back. */
    private List<PlacementEntry> echoPlacementRows() {
        List<KeyValue<String, PlacementEntry>> rows = placement.readKeyValuesToList();
        rows.forEach(kv -> placementIn.pipeInput(kv.key, kv.value));
        return rows.stream().map(kv -> kv.value).toList();
    }

    @Test
    void aReplicateCommandBecomesATableRowAndTheNextPassPlansWithTheReplica() {
        // Expert 3 of MoE layer 0 lives on die 0; copy it to die 12, the centre of the 5x5 mesh.
        commands.pipeInput("deepseek-v3/0/3", command(DEEPSEEK.id(), 0, 3, PlacementAction.REPLICATE, 0, 12));
        List<PlacementEntry> rows = echoPlacementRows();
        assertEquals(1, rows.size());
        assertEquals(new PlacementEntry(DEEPSEEK.id(), 0, 3, 0, List.of(12), 1L, 5L), rows.get(0));
        assertTrue(deadLetters.isEmpty());
        // A second command for the same expert sees the first (version 2, two replicas).
        commands.pipeInput("deepseek-v3/0/3", command(DEEPSEEK.id(), 0, 3, PlacementAction.REPLICATE, 12, 24));
        rows = echoPlacementRows();
        assertEquals(List.of(12, 24), rows.get(0).getReplicaDies());
        assertEquals(2L, rows.get(0).getVersion());

        List<SelectionEvent> events = List.of(selection("a", 0, 0, 40, 9, 0));
        events.forEach(e -> selections.pipeInput(e.getRequestId(), e));
        passes.pipeInput(DEEPSEEK.id(), pass(9, List.of(new PassEntry("a", 0, 40))));
        List<AllocationPlan> out = plans.readValuesToList();
        assertEquals(LAYERS, out.size());
        ExpertDistributionTable table = ExpertDistributionTable.even(DEEPSEEK, 25);
        table.replicate(0, 3, 12);
        table.replicate(0, 3, 24);
        AllocationResult direct = new TaskAllocator(Mesh.of(settings.hardware()), new DieCostModel(settings.hardware()))
                .allocate(DEEPSEEK, table, 0, countsByLayer(events)[0]);
        assertEquals(direct.assignments().stream().map(x -> new Assignment(x.expert(), x.die(), x.tokens())).toList(),
                out.get(0).getAssignments());
        List<AllocatorMetrics> m = metrics.readValuesToList();
        assertEquals(direct.remoteHops(), m.get(0).getRemoteHops());
        assertEquals(direct.maxDieNs(), m.get(0).getPlannedLayerNs(), 1e-6);
    }

    @Test
    void eachLayersMetricsCountTheMovesAndBytesThatTookEffectSinceThePreviousPass() {
        long passId = 20;
        onePass(passId++);
        placement.readKeyValuesToList(); // the even table, published on the first pass
        assertTrue(metrics.readValuesToList().stream().allMatch(m -> m.getMoves() == 0 && m.getMovedBytes() == 0));

        int home = ExpertDistributionTable.even(DEEPSEEK, 25).homeDie(5, 7);
        commands.pipeInput("deepseek-v3/0/3", command(DEEPSEEK.id(), 0, 3, PlacementAction.REPLICATE, 0, 12));
        commands.pipeInput("deepseek-v3/0/4", command(DEEPSEEK.id(), 0, 4, PlacementAction.REPLICATE, 0, 13));
        commands.pipeInput("deepseek-v3/5/7", command(DEEPSEEK.id(), 5, 7, PlacementAction.MIGRATE, home, 13));
        echoPlacementRows();
        onePass(passId++);
        List<AllocatorMetrics> second = metrics.readValuesToList();
        assertEquals(LAYERS, second.size());
        for (AllocatorMetrics m : second) {
            int moves = m.getLayer() == 0 ? 2 : m.getLayer() == 5 ? 1 : 0;
            assertEquals(moves, m.getMoves(), "layer " + m.getLayer());
            assertEquals(moves * DEEPSEEK.expertBytes(), m.getMovedBytes(), "layer " + m.getLayer());
        }

        commands.pipeInput("deepseek-v3/0/3", command(DEEPSEEK.id(), 0, 3, PlacementAction.EVICT, 12, -1));
        echoPlacementRows();
        onePass(passId++);
        AllocatorMetrics layer0 = metrics.readValuesToList().get(0);
        assertEquals(1, layer0.getMoves(), "the eviction");
        assertEquals(0L, layer0.getMovedBytes(), "an eviction moves no weights");
        onePass(passId);
        assertTrue(metrics.readValuesToList().stream().allMatch(m -> m.getMoves() == 0), "reported once");
        assertTrue(deadLetters.isEmpty());
    }

    private void onePass(long passId) {
        selections.pipeInput("a", selection("a", 0, 0, 40, passId, 0));
        passes.pipeInput(DEEPSEEK.id(), pass(passId, List.of(new PassEntry("a", 0, 40))));
    }

    @Test
    void commandsTheTableCannotTakeGoToTheDeadLettersWithTheirReason() {
        // Die 12 is home to 11 experts in each of the 58 layers (638 copies); 179 replicas make 817, all
        // its usable HBM (72 GB / 88 MB).
        int given = 0;
        for (int layer = 0; layer < LAYERS && given < 179; layer++) {
            for (int e = 0; e < 256 && given < 179; e++) {
                if (EvenPlacementHome.home(e) != 12) {
                    placementIn.pipeInput(AllocatorTopology.placementKey(DEEPSEEK.id(), layer, e), new PlacementEntry(
                            DEEPSEEK.id(), layer, e, EvenPlacementHome.home(e), List.of(12), 1L, 0L));
                    given++;
                }
            }
        }
        List<PlacementCommand> bad = List.of(
                command("gpt-moe-x", 0, 3, PlacementAction.REPLICATE, 0, 1),
                command(DEEPSEEK.id(), 58, 3, PlacementAction.REPLICATE, 0, 1),
                command(DEEPSEEK.id(), 0, 256, PlacementAction.REPLICATE, 0, 1),
                command(DEEPSEEK.id(), 57, 3, PlacementAction.REPLICATE, 0, 25),
                command(DEEPSEEK.id(), 57, 3, PlacementAction.REPLICATE, 0, 12),
                command(DEEPSEEK.id(), 57, 3, PlacementAction.MIGRATE, 5, 6),
                command(DEEPSEEK.id(), 57, 3, PlacementAction.EVICT, 0, -1),
                command(DEEPSEEK.id(), 57, 3, PlacementAction.REPLICATE, 0, 0));
        bad.forEach(c -> commands.pipeInput(c.getModel() + "/" + c.getLayer() + "/" + c.getExpert(), c));
        List<DeadLetter> letters = deadLetters.readValuesToList();
        assertEquals(List.of(
                "unknown model 'gpt-moe-x'",
                "MoE layer 58 out of range 0..57 of deepseek-v3",
                "unknown expert 256: deepseek-v3 has experts 0..255",
                "REPLICATE to die 25: out of range 0..24",
                "placement beyond HBM capacity: die 12 already holds 817 copies of deepseek-v3 experts (72.0 GB of 72.0 GB usable)",
                "MIGRATE: die 5 holds no copy of expert 3 of MoE layer 57",
                "EVICT: die 0 holds the last copy of expert 3 of MoE layer 57",
                "REPLICATE: die 0 already holds expert 3 of MoE layer 57"),
                letters.stream().map(DeadLetter::getReason).toList());
        for (int i = 0; i < letters.size(); i++) {
            assertEquals(Topics.PLACEMENT_COMMANDS.name(), letters.get(i).getSourceTopic());
            assertEquals(i, letters.get(i).getSourceOffset());
        }
        assertTrue(placement.isEmpty());
        // Still running: a good command goes through.
        commands.pipeInput("deepseek-v3/57/3", command(DEEPSEEK.id(), 57, 3, PlacementAction.REPLICATE, 0, 1));
        assertEquals(List.of(1), placement.readValuesToList().get(0).getReplicaDies());
    }

    /** EvenPlacement's home die of a DeepSeek expert on the 25 dies. */
    private static final class EvenPlacementHome {
        static int home(int expert) {
            return io.expertcast.core.placement.EvenPlacement.homeDie(expert, 256, 25);
        }
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void aPassOfThreeRequestsGetsOnePlanPerMoeLayerWithAllItsSelections() {
        // Request a: prefill of 5 tokens in two chunks; b and c: one decode token each.
        List<SelectionEvent> events = List.of(
                selection("a", 0, 0, 3, 7, 0), selection("a", 0, 3, 2, 7, 3),
                selection("b", 4, 0, 1, 7, 5), selection("c", 9, 0, 1, 7, 6));
        events.forEach(e -> selections.pipeInput(e.getRequestId(), e));
        passes.pipeInput(DEEPSEEK.id(), pass(7, List.of(new PassEntry("a", 0, 5), new PassEntry("b", 4, 1),
                new PassEntry("c", 9, 1))));

        List<KeyValue<String, AllocationPlan>> out = plans.readKeyValuesToList();
        assertEquals(LAYERS, out.size());
        int[][] expected = countsByLayer(events);
        TaskAllocator allocator = new TaskAllocator(Mesh.of(settings.hardware()),
                new DieCostModel(settings.hardware()));
        ExpertDistributionTable table = ExpertDistributionTable.even(DEEPSEEK, 25);
        for (int layer = 0; layer < LAYERS; layer++) {
            KeyValue<String, AllocationPlan> kv = out.get(layer);
            AllocationPlan plan = kv.value;
            assertEquals(Topics.passKey(DEEPSEEK.id(), 7), kv.key);
            assertEquals(layer, plan.getLayer());
            assertEquals(LAYERS, plan.getNumMoeLayers());
            assertEquals("dojo-5x5", plan.getMesh());
            assertEquals(7 * DEEPSEEK.topK(), plan.getTotalTokens());
            int[] planned = new int[DEEPSEEK.numExperts()];
            for (Assignment a : plan.getAssignments()) {
                planned[a.getExpert()] += a.getTokens();
            }
            assertEquals(java.util.Arrays.toString(expected[layer]), java.util.Arrays.toString(planned));
            // The plan is exactly what the core computes from the same counts.
            AllocationResult direct = allocator.allocate(DEEPSEEK, table, layer, expected[layer]);
            assertEquals(direct.assignments().stream().map(x -> new Assignment(x.expert(), x.die(), x.tokens()))
                    .toList(), plan.getAssignments());
        }
        List<KeyValue<String, AllocatorMetrics>> m = metrics.readKeyValuesToList();
        assertEquals(LAYERS, m.size());
        assertEquals(DEEPSEEK.id(), m.get(0).key);
        assertEquals(56 / 25.0, m.get(0).value.getMeanDieTokens(), 1e-9);
        assertEquals(0, m.get(0).value.getMoves());
        assertTrue(deadLetters.isEmpty());

        // The even table went out once, one row per MoE layer and expert; a second pass does not repeat it.
        List<KeyValue<String, PlacementEntry>> rows = placement.readKeyValuesToList();
        assertEquals(LAYERS * DEEPSEEK.numExperts(), rows.size());
        assertEquals("deepseek-v3/57/255", rows.get(rows.size() - 1).key);
        assertEquals(24, rows.get(rows.size() - 1).value.getHomeDie());
        assertTrue(rows.get(0).value.getReplicaDies().isEmpty());
        selections.pipeInput("b", selection("b", 5, 0, 1, 8, 0));
        passes.pipeInput(DEEPSEEK.id(), pass(8, List.of(new PassEntry("b", 5, 1))));
        assertEquals(LAYERS, plans.readValuesToList().size());
        assertTrue(placement.isEmpty());
    }

    @Test
    void nothingIsPlannedUntilTheLastSelectionOfThePassArrives() {
        passes.pipeInput(DEEPSEEK.id(), pass(3, List.of(new PassEntry("a", 0, 4), new PassEntry("b", 2, 1))));
        selections.pipeInput("a", selection("a", 0, 0, 4, 3, 0));
        assertTrue(plans.isEmpty());
        assertTrue(metrics.isEmpty());
        selections.pipeInput("b", selection("b", 2, 0, 1, 3, 4));
        List<AllocationPlan> out = plans.readValuesToList();
        assertEquals(LAYERS, out.size());
        out.forEach(p -> assertEquals(5 * DEEPSEEK.topK(), p.getTotalTokens()));
    }

    @Test
    void passesOfUnknownModelsOrWithoutTokensGoToTheDeadLetters() {
        ForwardPass unknown = new ForwardPass("gpt-moe-x", 1L, List.of(new PassEntry("a", 1, 1)), 1, 1, 0L, "");
        ForwardPass empty = new ForwardPass(DEEPSEEK.id(), 2L, List.of(), 0, 0, 0L, "");
        passes.pipeInput("gpt-moe-x", unknown);
        passes.pipeInput(DEEPSEEK.id(), empty);
        List<DeadLetter> letters = deadLetters.readValuesToList();
        assertEquals(2, letters.size());
        assertEquals("unknown model 'gpt-moe-x'", letters.get(0).getReason());
        assertEquals(Topics.PASSES.name(), letters.get(0).getSourceTopic());
        assertEquals(0L, letters.get(0).getSourceOffset());
        assertEquals(settings.applicationName(), letters.get(0).getApplication());
        assertEquals("forward pass 2 has 0 tokens", letters.get(1).getReason());
        assertEquals(1L, letters.get(1).getSourceOffset());
        assertTrue(plans.isEmpty());
        // The topology keeps running.
        selections.pipeInput("a", selection("a", 1, 0, 1, 4, 0));
        passes.pipeInput(DEEPSEEK.id(), pass(4, List.of(new PassEntry("a", 1, 1))));
        assertEquals(LAYERS, plans.readValuesToList().size());
    }

    /**
     * A dead-lettered selection never reaches the pass assembly, so its pass never has all its
     * tokens: the pass is never planned (and its parts stay in the assembly stores). The next
     * pass is planned as usual.
     */
    @Test
    void anInvalidSelectionIsDeadLetteredAndItsPassIsNeverPlanned() {
        passes.pipeInput(DEEPSEEK.id(), pass(5, List.of(new PassEntry("a", 1, 1), new PassEntry("b", 1, 1))));
        selections.pipeInput("a", selection("a", 1, 0, 1, 5, 0));
        SelectionEvent bad = selection("b", 1, 0, 1, 5, 1);
        byte[] ids = bad.getExpertIds().array().clone();
        ids[0] = (byte) 0x00;
        ids[1] = (byte) 0x01; // expert 256 of 256
        bad.setExpertIds(ByteBuffer.wrap(ids));
        selections.pipeInput("b", bad);

        List<DeadLetter> letters = deadLetters.readValuesToList();
        assertEquals(1, letters.size());
        assertTrue(letters.get(0).getReason().startsWith("expert id 256 out of range"), letters.get(0).getReason());
        assertEquals(1L, letters.get(0).getSourceOffset());
        assertTrue(plans.isEmpty());
        assertTrue(metrics.isEmpty());
        assertTrue(storeSize(AllocatorTopology.ASSEMBLY_NAME + "-pass-items") > 0, "pass 5 is still waiting");

        selections.pipeInput("c", selection("c", 1, 0, 1, 6, 0));
        passes.pipeInput(DEEPSEEK.id(), pass(6, List.of(new PassEntry("c", 1, 1))));
        List<KeyValue<String, AllocationPlan>> out = plans.readKeyValuesToList();
        assertEquals(LAYERS, out.size());
        out.forEach(kv -> assertEquals(Topics.passKey(DEEPSEEK.id(), 6), kv.key));
    }

    private SelectionEvent selection(String request, int step, int tokenOffset, int tokens, long pass,
                                     int batchTokenOffset) {
        int[] ids = new int[tokens * LAYERS * DEEPSEEK.topK()];
        for (int t = 0; t < tokens; t++) {
            for (int layer = 0; layer < LAYERS; layer++) {
                // k distinct experts per token and layer, skewed towards low ids.
                int first = random.nextInt(random.nextBoolean() ? 16 : DEEPSEEK.numExperts());
                for (int slot = 0; slot < DEEPSEEK.topK(); slot++) {
                    ids[ExpertIds.index(t, layer, slot, LAYERS, DEEPSEEK.topK())] =
                            (first + 31 * slot) % DEEPSEEK.numExperts();
                }
            }
        }
        return SelectionEvent.newBuilder().setModel(DEEPSEEK.id()).setRequestId(request).setStep(step)
                .setPhase(step == 0 ? Phase.PREFILL : Phase.DECODE).setTokenOffset(tokenOffset)
                .setTokenCount(tokens).setPassId(pass).setBatchTokenOffset(batchTokenOffset)
                .setNumMoeLayers(LAYERS).setTopK(DEEPSEEK.topK()).setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids)))
                .setEventTimeMs(1000L).build();
    }

    private static ForwardPass pass(long id, List<PassEntry> entries) {
        int total = entries.stream().mapToInt(PassEntry::getTokenCount).sum();
        int decode = entries.stream().filter(e -> e.getStep() > 0).mapToInt(PassEntry::getTokenCount).sum();
        return new ForwardPass(DEEPSEEK.id(), id, entries, total, decode, 1000L, "");
    }

    private static int[][] countsByLayer(List<SelectionEvent> events) {
        int[][] counts = new int[LAYERS][DEEPSEEK.numExperts()];
        for (SelectionEvent e : events) {
            int[] ids = ExpertIds.unpack(e.getExpertIds().array());
            for (int t = 0; t < e.getTokenCount(); t++) {
                for (int layer = 0; layer < LAYERS; layer++) {
                    for (int slot = 0; slot < DEEPSEEK.topK(); slot++) {
                        counts[layer][ids[ExpertIds.index(t, layer, slot, LAYERS, DEEPSEEK.topK())]]++;
                    }
                }
            }
        }
        return counts;
    }

    private int storeSize(String name) {
        List<Object> keys = new ArrayList<>();
        try (var it = driver.getKeyValueStore(name).all()) {
            it.forEachRemaining(kv -> keys.add(kv.key));
        }
        return keys.size();
    }
}
