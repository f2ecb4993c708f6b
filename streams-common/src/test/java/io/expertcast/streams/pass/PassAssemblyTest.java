package io.expertcast.streams.pass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PassAssemblyTest {
    @TempDir
    Path stateDir;

    private final List<CompletedPass> completed = new ArrayList<>();

    private TopologyTestDriver driver(boolean withPlans) {
        StreamsBuilder builder = new StreamsBuilder();
        var selections = builder.stream(Topics.SELECTIONS.name(),
                Consumed.with(Topics.SELECTIONS.keySerde(), Topics.SELECTIONS.valueSerde()));
        var passes = builder.stream(Topics.PASSES.name(),
                Consumed.with(Topics.PASSES.keySerde(), Topics.PASSES.valueSerde()));
        var plans = withPlans ? builder.stream(Topics.ALLOCATIONS.name(),
                Consumed.with(Topics.ALLOCATIONS.keySerde(), Topics.ALLOCATIONS.valueSerde())) : null;
        PassAssembly.assemble(builder, "t", ModelCatalog.standard(), selections, passes, plans)
                .foreach((k, v) -> completed.add(v));
        return new TopologyTestDriver(builder.build(), StreamsSettings.base("t", "unused:9092", stateDir, Map.of()));
    }

    private static SelectionEvent sel(String r, int step, int off, int n, long pass, int batchOff) {
        return io.expertcast.streams.StreamsTestData.selection(r, step, off, n, pass, batchOff, 1);
    }

    @Test
    void emitsOncePerPassWhenEveryTokenHasArrivedInAnyOrder() {
        try (TopologyTestDriver driver = driver(false)) {
            var sIn = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var pIn = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            ForwardPass p0 = io.expertcast.streams.StreamsTestData.pass(0,
                    List.of(new PassEntry("a", 0, 5), new PassEntry("b", 1, 1)));
            sIn.pipeInput("a", sel("a", 0, 0, 3, 0, 0));
            pIn.pipeInput("m", p0); // the pass record may come before the last selections
            assertTrue(completed.isEmpty());
            sIn.pipeInput("a", sel("a", 0, 0, 3, 0, 0)); // duplicate chunk: stored and counted once
            sIn.pipeInput("b", sel("b", 1, 0, 1, 0, 5));
            assertTrue(completed.isEmpty());
            sIn.pipeInput("a", sel("a", 0, 3, 2, 0, 3));
            assertEquals(1, completed.size());
            CompletedPass done = completed.get(0);
            assertEquals(p0, done.pass());
            assertEquals(3, done.selections().size());
            assertEquals(List.of("a", "a", "b"), done.selections().stream().map(SelectionEvent::getRequestId).toList());
            assertTrue(done.plans().isEmpty());
            // State is cleared once the pass is emitted.
            assertEquals(0, countEntries(driver, "t-pass-items"));
            assertEquals(0, countEntries(driver, "t-pass-progress"));
        }
    }

    @Test
    void passesOfTwoSourcesWithTheSamePassIdAreAssembledApart() {
        try (TopologyTestDriver driver = driver(false)) {
            var sIn = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var pIn = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            // The same request ids and pass id from two replays, interleaved; a third source named like a
            // zero-padded pass id must not be taken for the unnamed source's pass 0.
            for (String source : List.of("replay-a", "replay-b", "000000000000", "")) {
                pIn.pipeInput("m", ForwardPass.newBuilder(io.expertcast.streams.StreamsTestData.pass(0,
                        List.of(new PassEntry("a", 0, 2)))).setSource(source).build());
            }
            for (String source : List.of("replay-a", "replay-b", "000000000000", "")) {
                sIn.pipeInput("a", SelectionEvent.newBuilder(sel("a", 0, 0, 1, 0, 0)).setSource(source).build());
            }
            assertTrue(completed.isEmpty()); // each source's pass has 1 of its 2 tokens
            for (String source : List.of("replay-b", "", "replay-a", "000000000000")) {
                sIn.pipeInput("a", SelectionEvent.newBuilder(sel("a", 0, 1, 1, 0, 1)).setSource(source).build());
            }
            assertEquals(List.of("replay-b", "", "replay-a", "000000000000"),
                    completed.stream().map(c -> c.pass().getSource()).toList());
            for (CompletedPass c : completed) {
                assertEquals(2, c.selections().size());
                assertTrue(c.selections().stream().allMatch(e -> e.getSource().equals(c.pass().getSource())));
            }
            assertEquals(0, countEntries(driver, "t-pass-items"));
            assertEquals(0, countEntries(driver, "t-pass-progress"));
        }
    }

    @Test
    void waitsForOnePlanPerMoeLayerWhenPlansAreAssembled() {
        try (TopologyTestDriver driver = driver(true)) {
            var sIn = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var pIn = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            var planIn = driver.createInputTopic(Topics.ALLOCATIONS.name(), new StringSerializer(),
                    Topics.ALLOCATIONS.valueSerde().serializer());
            sIn.pipeInput("a", sel("a", 1, 0, 1, 9, 0));
            pIn.pipeInput("m", io.expertcast.streams.StreamsTestData.pass(9, List.of(new PassEntry("a", 1, 1))));
            for (int layer = 23; layer >= 0; layer--) {
                assertTrue(completed.isEmpty());
                planIn.pipeInput(Topics.passKey("llama4-maverick", 9), new AllocationPlan("llama4-maverick", 9L,
                        layer, 24, "dojo-5x5", List.of(), 1, 0L, ""));
            }
            assertEquals(1, completed.size());
            assertEquals(24, completed.get(0).plans().size());
            assertEquals(0, completed.get(0).plans().get(0).getLayer());
        }
    }

    @Test
    void aPassThatStopsReceivingInputIsDroppedAndDeadLettered() {
        try (TopologyTestDriver driver = driver(false)) {
            var sIn = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var pIn = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                    Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());
            // Request "b" of pass 4 never arrives (e.g. it was dead-lettered upstream).
            sIn.pipeInput("a", sel("a", 1, 0, 1, 4, 0));
            pIn.pipeInput("m", io.expertcast.streams.StreamsTestData.pass(4, List.of(new PassEntry("a", 1, 1), new PassEntry("b", 1, 1))));
            driver.advanceWallClockTime(PassAssembly.DEFAULT_IDLE_TIMEOUT.minusSeconds(31));
            assertTrue(dead.isEmpty());
            assertEquals(1, countEntries(driver, "t-pass-progress"));
            driver.advanceWallClockTime(java.time.Duration.ofSeconds(61));
            var letters = dead.readValuesToList();
            assertEquals(1, letters.size());
            assertTrue(letters.get(0).getReason().contains("pass 4 of llama4-maverick incomplete"), letters.get(0).getReason());
            assertTrue(letters.get(0).getReason().contains("tokens 1/2"), letters.get(0).getReason());
            assertEquals("t-t-pass-inputs-repartition", letters.get(0).getSourceTopic());
            assertEquals(0, letters.get(0).getSourcePartition());
            assertEquals(0L, letters.get(0).getSourceOffset(), "the pass's first input");
            assertEquals(0, countEntries(driver, "t-pass-items"));
            assertEquals(0, countEntries(driver, "t-pass-progress"));
            assertTrue(completed.isEmpty());
        }
    }

    @Test
    void plansForAPassThatNeverComesAreDeadLetteredWithTheFirstPlansOffset() {
        try (TopologyTestDriver driver = driver(true)) {
            var sIn = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var pIn = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            var planIn = driver.createInputTopic(Topics.ALLOCATIONS.name(), new StringSerializer(),
                    Topics.ALLOCATIONS.valueSerde().serializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                    Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());
            // A real pass 9 (inputs 0-1 on the repartition topic) and two plans for pass 77, which never comes.
            sIn.pipeInput("a", sel("a", 1, 0, 1, 9, 0));
            pIn.pipeInput("m", io.expertcast.streams.StreamsTestData.pass(9, List.of(new PassEntry("a", 1, 1))));
            for (int layer = 0; layer < 2; layer++) {
                planIn.pipeInput(Topics.passKey("llama4-maverick", 77), new AllocationPlan("llama4-maverick", 77L,
                        layer, 24, "dojo-5x5", List.of(), 1, 0L, ""));
            }
            driver.advanceWallClockTime(PassAssembly.DEFAULT_IDLE_TIMEOUT.plusSeconds(30));
            var letters = dead.readValuesToList();
            assertEquals(2, letters.size(), "pass 9 lacks its plans, pass 77 its tokens");
            var unknown = letters.stream().filter(l -> l.getReason().startsWith("pass 77 ")).findFirst().orElseThrow();
            assertEquals("pass 77 of llama4-maverick incomplete after 120 s without input: tokens 0/? (no ForwardPass "
                    + "record), plans 2/24; its 0 stored selections are dropped", unknown.getReason());
            assertEquals("t-t-pass-inputs-repartition", unknown.getSourceTopic());
            assertEquals(2L, unknown.getSourceOffset(), "the first plan of pass 77");
            assertEquals(0, countEntries(driver, "t-pass-items"));
            assertTrue(completed.isEmpty());
        }
    }

    private static int countEntries(TopologyTestDriver driver, String store) {
        int n = 0;
        try (var it = driver.getKeyValueStore(store).all()) {
            while (it.hasNext()) {
                it.next();
                n++;
            }
        }
        return n;
    }
}
