package io.expertcast.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.wafer.WaferEngine;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.core.wafer.PrefetchSource;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.LayerPrediction;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.StreamsTestData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Pred policy with the prefetch source topic copies exactly what the commands on moe.prefetch
 * ask for, joined to their passes by request id and step; late, unknown and expired commands are
 * counted on moe.wafer-metrics and /metrics, unknown ones are dead letters.
 *
 * <p>Llama-4 (24 MoE layers, k = 1, 128 experts) on dojo-5x5: under Base expert 7 runs on die 7 and
 * expert 40 on die 15, while the even table holds them on dies 1 and 7, so both are remote reads and
 * a copy-enabled one leaves a copy in the reader's HBM.
 */
class PrefetchCommandTopologyTest {
    private static final String MODEL = StreamsTestData.MODEL;
    private static final int LAYERS = 24;
    private static final int EXPERTS = 128;
    private static final int DIE_OF_7 = 7;
    private static final int DIE_OF_40 = 15;

    @TempDir
    Path stateDir;

    private long commandOffset; // offsets of moe.prefetch in the driver, one per piped record

    private static EmulatorSettings settings(PrefetchSource source) {
        return new EmulatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"), List.of("base", "pred"),
                "emu", EmulatorSettings.DEFAULT_PREDICT_N, source);
    }

    /** A command for {@code request} with {@code experts[i]} at MoE layer {@code layers[i]}. */
    private static PrefetchCommand command(String model, String request, PrefetchScope scope, int targetStep,
                                           int[] layers, int[][] experts) {
        List<LayerPrediction> predictions = new ArrayList<>();
        for (int i = 0; i < layers.length; i++) {
            List<Integer> ids = new ArrayList<>();
            List<Double> scores = new ArrayList<>();
            for (int e : experts[i]) {
                ids.add(e);
                scores.add(1.0);
            }
            predictions.add(new LayerPrediction(layers[i], ids, scores));
        }
        return new PrefetchCommand(model, request, scope, targetStep, MemoryTier.HBM, predictions, 0L, 0L, 0, java.nio.ByteBuffer.allocate(0), java.nio.ByteBuffer.allocate(0));
    }

    private static SelectionEvent decodeStep(String request, int step, long pass, int batchOffset, int expert,
                                             boolean last) {
        SelectionEvent e = StreamsTestData.selection(request, step, 0, 1, pass, batchOffset, expert);
        e.setLastStep(last);
        return e;
    }

    private void send(TestInputTopic<String, PrefetchCommand> in, PrefetchCommand c) {
        in.pipeInput(c.getRequestId(), c);
        commandOffset++;
    }

    /** The emulator's topology in a test driver, with the topics these tests feed and read. */
    private record Driven(TopologyTestDriver driver, WaferSnapshot snapshot, TestInputTopic<String, SelectionEvent> selections,
                          TestInputTopic<String, io.expertcast.schemas.ForwardPass> passes,
                          TestInputTopic<String, PrefetchCommand> commands,
                          TestOutputTopic<String, WaferMetrics> metrics,
                          TestOutputTopic<byte[], DeadLetter> dead) implements AutoCloseable {
        @Override
        public void close() {
            driver.close();
        }
    }

    private Driven drive(PassEmulator emulator) {
        WaferSnapshot snapshot = new WaferSnapshot();
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, emulator, snapshot);
        TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base("emu", "unused:9092", stateDir, Map.of()));
        return new Driven(driver, snapshot,
                driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                        Topics.SELECTIONS.valueSerde().serializer()),
                driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(), Topics.PASSES.valueSerde().serializer()),
                driver.createInputTopic(Topics.PREFETCH.name(), new StringSerializer(),
                        Topics.PREFETCH.valueSerde().serializer()),
                driver.createOutputTopic(Topics.WAFER_METRICS.name(), Topics.WAFER_METRICS.keySerde().deserializer(),
                        Topics.WAFER_METRICS.valueSerde().deserializer()),
                driver.createOutputTopic(Topics.DEAD_LETTER.name(), Topics.DEAD_LETTER.keySerde().deserializer(),
                        Topics.DEAD_LETTER.valueSerde().deserializer()));
    }

    /** Every (die, layer, expert) whose HBM copy the engine holds, as "die/layer/expert". */
    private static Set<String> copies(WaferEngine engine) {
        Set<String> out = new TreeSet<>();
        for (int d = 0; d < 25; d++) {
            for (int l = 0; l < LAYERS; l++) {
                for (int e = 0; e < EXPERTS; e++) {
                    if (engine.hbmCopy(d, l, e)) {
                        out.add(d + "/" + l + "/" + e);
                    }
                }
            }
        }
        return out;
    }

    private static Set<String> expected(int die, int expert, int... layers) {
        Set<String> out = new TreeSet<>();
        for (int l : layers) {
            out.add(die + "/" + l + "/" + expert);
        }
        return out;
    }

    @Test
    void thePredPolicyCopiesExactlyWhatTheCommandsAskForAndCountsEveryCommand() {
        PassEmulator emulator = new PassEmulator(settings(PrefetchSource.TOPIC));
        try (Driven d = drive(emulator)) {
            var snapshot = d.snapshot();
            var selections = d.selections();
            var passes = d.passes();
            var commands = d.commands();
            var metrics = d.metrics();
            var dead = d.dead();

            // Before pass 0 (a and b at decode step 1): a's decode-phase plan (expert 7 at layers 0-5,
            // expert 40 at layer 2), b's next-token command for step 1 (40 at layer 9) and one for step 2.
            send(commands, command(MODEL, "a", PrefetchScope.DECODE_PHASE, 1, new int[] {0, 1, 2, 3, 4, 5},
                    new int[][] {{7}, {7}, {7, 40}, {7}, {7}, {7}}));
            send(commands, command(MODEL, "b", PrefetchScope.NEXT_TOKEN, 1, new int[] {9}, new int[][] {{40}}));
            send(commands, command(MODEL, "b", PrefetchScope.NEXT_TOKEN, 2, new int[] {20}, new int[][] {{40}}));
            assertTrue(metrics.isEmpty(), "commands filed in time change no count before their pass");
            selections.pipeInput("a", decodeStep("a", 1, 0, 0, 7, false));
            selections.pipeInput("b", decodeStep("b", 1, 0, 1, 40, false));
            passes.pipeInput(MODEL, StreamsTestData.pass(0, List.of(new PassEntry("a", 1, 1), new PassEntry("b", 1, 1))));

            WaferEngine pred = emulator.engine(MODEL, "pred");
            Set<String> afterPass0 = expected(DIE_OF_7, 7, 0, 1, 2, 3, 4, 5);
            afterPass0.addAll(expected(DIE_OF_40, 40, 2, 9)); // the pass's set is the union over its entries
            assertEquals(afterPass0, copies(pred));
            assertEquals(Set.of(), copies(emulator.engine(MODEL, "base")), "Base never copies");
            WaferMetrics pass0 = metrics.readKeyValuesToMap().get(MODEL + "/pred");
            assertEquals(8, pass0.getCopyWrites());
            assertEquals(2, pass0.getPrefetchUsed(), "a's plan and b's step-1 command");

            // Before pass 1: a command for a's step 1 (already emulated: late), one naming expert 128
            // (unknown: a dead letter), one for a model nobody knows (a dead letter), a's step-2 command.
            send(commands, command(MODEL, "a", PrefetchScope.NEXT_TOKEN, 1, new int[] {23}, new int[][] {{7}}));
            long unknownExpertOffset = commandOffset;
            send(commands, command(MODEL, "a", PrefetchScope.NEXT_TOKEN, 2, new int[] {3}, new int[][] {{128}}));
            long unknownModelOffset = commandOffset;
            send(commands, command("mystery-moe", "a", PrefetchScope.NEXT_TOKEN, 2, new int[] {3}, new int[][] {{7}}));
            send(commands, command(MODEL, "a", PrefetchScope.NEXT_TOKEN, 2, new int[] {15}, new int[][] {{7}}));
            selections.pipeInput("a", decodeStep("a", 2, 1, 0, 7, false));
            selections.pipeInput("b", decodeStep("b", 2, 1, 1, 40, true));
            passes.pipeInput(MODEL, StreamsTestData.pass(1, List.of(new PassEntry("a", 2, 1), new PassEntry("b", 2, 1))));

            Set<String> afterPass1 = new TreeSet<>(afterPass0);
            afterPass1.addAll(expected(DIE_OF_7, 7, 15));   // a's step-2 command; its plan's copies already there
            afterPass1.addAll(expected(DIE_OF_40, 40, 20)); // b's step-2 command
            assertEquals(afterPass1, copies(pred));
            WaferMetrics pass1 = metrics.readKeyValuesToMap().get(MODEL + "/pred");
            assertEquals(10, pass1.getCopyWrites());
            assertEquals(8, pass1.getCopyReads() - pass0.getCopyReads(), "a's layers 0-5 and b's 2 and 9 read the copies");
            assertEquals(4, pass1.getPrefetchUsed());
            assertEquals(1, pass1.getPrefetchLate());
            assertEquals(1, pass1.getPrefetchUnknown());

            List<DeadLetter> letters = dead.readValuesToList();
            assertEquals(List.of("prefetch command for request a names expert 128 at MoE layer 3, model " + MODEL
                            + " has 128", "prefetch command for request a names unknown model 'mystery-moe'"),
                    letters.stream().map(DeadLetter::getReason).toList());
            assertEquals(Topics.PREFETCH.name(), letters.get(0).getSourceTopic());
            assertEquals(unknownExpertOffset, letters.get(0).getSourceOffset());
            assertEquals(unknownModelOffset, letters.get(1).getSourceOffset());

            // b ended at step 2: a command for its step 3 is late. a's command for step 4 expires when
            // a ends at step 3 without reaching it; a's plan, used, leaves the book.
            send(commands, command(MODEL, "b", PrefetchScope.NEXT_TOKEN, 3, new int[] {0}, new int[][] {{40}}));
            send(commands, command(MODEL, "a", PrefetchScope.NEXT_TOKEN, 4, new int[] {0}, new int[][] {{40}}));
            assertEquals(2, emulator.pendingCommands(MODEL), "a's plan and its step-4 command wait");
            selections.pipeInput("a", decodeStep("a", 3, 2, 0, 7, true));
            passes.pipeInput(MODEL, StreamsTestData.pass(2, List.of(new PassEntry("a", 3, 1))));
            assertEquals(0, emulator.pendingCommands(MODEL));
            assertEquals(afterPass1, copies(pred), "no command targeted a's step 3 beyond its plan, already copied");

            var totals = metrics.readKeyValuesToMap();
            WaferMetrics end = totals.get(MODEL + "/pred");
            assertEquals(3, end.getPasses());
            assertEquals(4, end.getPrefetchUsed());
            assertEquals(2, end.getPrefetchLate());
            assertEquals(1, end.getPrefetchUnknown());
            assertEquals(1, end.getPrefetchExpired());
            assertEquals(8, end.getPrefetchUsed() + end.getPrefetchLate() + end.getPrefetchUnknown()
                    + end.getPrefetchExpired(), "every command of the model is in one bucket");
            assertEquals(0, totals.get(MODEL + "/base").getPrefetchUsed(), "Base executes no commands");
            assertTrue(dead.isEmpty());

            // /metrics serves the same counts.
            @SuppressWarnings("unchecked")
            var rows = (Map<String, Map<String, Object>>) snapshot.json().get("totals");
            assertEquals(4L, rows.get(MODEL + "/pred").get("prefetch_used"));
            assertEquals(2L, rows.get(MODEL + "/pred").get("prefetch_late"));
            assertEquals(1L, rows.get(MODEL + "/pred").get("prefetch_unknown"));
            assertEquals(1L, rows.get(MODEL + "/pred").get("prefetch_expired"));
            assertEquals(Map.of("source", "topic", "unknown_model_commands", 1L), snapshot.json().get("prefetch"));
        }
    }

    /**
     * Idle timeout 60 s: request "gone" has commands but never a pass, b runs one step and goes
     * silent; a runs a step every 20 s of pass event time. At 80 s gone and b are given up.
     */
    @Test
    void commandsOfARequestThatWentIdleExpireAndEveryCommandIsCountedOnce() {
        PassEmulator emulator = new PassEmulator(settings(PrefetchSource.TOPIC).withRequestIdleTimeout(
                java.time.Duration.ofSeconds(60)));
        try (Driven d = drive(emulator)) {
            var selections = d.selections();
            var passes = d.passes();
            var commands = d.commands();
            var metrics = d.metrics();
            send(commands, command(MODEL, "gone", PrefetchScope.NEXT_TOKEN, 2, new int[] {1}, new int[][] {{7}}));
            send(commands, command(MODEL, "gone", PrefetchScope.DECODE_PHASE, 1, new int[] {1}, new int[][] {{7}}));
            send(commands, command(MODEL, "b", PrefetchScope.NEXT_TOKEN, 2, new int[] {1}, new int[][] {{40}}));
            send(commands, command(MODEL, "a", PrefetchScope.NEXT_TOKEN, 5, new int[] {1}, new int[][] {{7}}));
            selections.pipeInput("b", decodeStep("b", 1, 0, 0, 40, false));
            var first = StreamsTestData.pass(0, List.of(new PassEntry("b", 1, 1)));
            passes.pipeInput(MODEL, first);
            for (int step = 1; step <= 5; step++) {
                selections.pipeInput("a", decodeStep("a", step, step, 0, 7, false));
                var pass = StreamsTestData.pass(step, List.of(new PassEntry("a", step, 1)));
                pass.setEventTimeMs((step - 1) * 20_000L);
                passes.pipeInput(MODEL, pass);
                if (step == 4) {
                    assertEquals(4, emulator.pendingCommands(MODEL), "at 60 s nobody has been idle for more than 60 s");
                }
            }
            assertEquals(0, emulator.pendingCommands(MODEL));
            assertEquals(1, emulator.openRequests(MODEL), "a is still running");
            WaferMetrics pred = metrics.readKeyValuesToMap().get(MODEL + "/pred");
            assertEquals(1, pred.getPrefetchUsed(), "a's step-5 command");
            assertEquals(3, pred.getPrefetchExpired(), "gone's two commands and b's step-2 command");
            assertEquals(0, pred.getPrefetchLate() + pred.getPrefetchUnknown());
            assertEquals(commandOffset, pred.getPrefetchUsed() + pred.getPrefetchLate() + pred.getPrefetchUnknown()
                    + pred.getPrefetchExpired(), "every command in exactly one bucket");
            send(commands, command(MODEL, "gone", PrefetchScope.NEXT_TOKEN, 3, new int[] {1}, new int[][] {{7}}));
            assertEquals(1, metrics.readKeyValuesToMap().get(MODEL + "/pred").getPrefetchLate(),
                    "a command for a request given up is late");
        }
    }

    @Test
    void withTheInProcessSourceTheCommandsAreNotReadAndTheHeatmapDecides() {
        PassEmulator emulator = new PassEmulator(settings(PrefetchSource.IN_PROCESS));
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, emulator, new WaferSnapshot());
        var topology = builder.build();
        assertTrue(!topology.describe().toString().contains(Topics.PREFETCH.name()), "moe.prefetch is not a source");
        try (TopologyTestDriver driver = new TopologyTestDriver(topology,
                StreamsSettings.base("emu", "unused:9092", stateDir, Map.of()))) {
            var selections = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var passes = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            selections.pipeInput("a", decodeStep("a", 1, 0, 0, 7, false));
            passes.pipeInput(MODEL, StreamsTestData.pass(0, List.of(new PassEntry("a", 1, 1))));
            assertEquals(Set.of(), copies(emulator.engine(MODEL, "pred")), "an empty heatmap forecasts nothing");
            selections.pipeInput("a", decodeStep("a", 2, 1, 0, 7, false));
            passes.pipeInput(MODEL, StreamsTestData.pass(1, List.of(new PassEntry("a", 2, 1))));
            assertEquals(Set.of(), copies(emulator.engine(MODEL, "pred")), "no transition seen before pass 1");
            selections.pipeInput("a", decodeStep("a", 3, 2, 0, 7, false));
            passes.pipeInput(MODEL, StreamsTestData.pass(2, List.of(new PassEntry("a", 3, 1))));
            // The heatmap learnt 7 -> 7 at every layer in pass 1: pass 2 copies expert 7 everywhere on die 7.
            Set<String> all = new TreeSet<>();
            for (int l = 0; l < LAYERS; l++) {
                all.add(DIE_OF_7 + "/" + l + "/7");
            }
            assertEquals(all, copies(emulator.engine(MODEL, "pred")));
        }
    }
}
