package io.expertcast.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
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
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.StreamsTestData;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 item 3: one pass stamped 24 h ahead of the wall clock used to move the emulator's idle
 * clock a day forward and expire every pending prefetch command. It is a dead letter now, and the
 * pending commands wait for their passes.
 */
class FutureEventTimeTest {
    private static final String MODEL = StreamsTestData.MODEL;

    @TempDir
    Path stateDir;

    private static PrefetchCommand nextToken(String request, int targetStep) {
        return new PrefetchCommand(MODEL, request, PrefetchScope.NEXT_TOKEN, targetStep, MemoryTier.HBM,
                List.of(new LayerPrediction(1, List.of(7), List.of(1.0))), 0L, 0L, 0, java.nio.ByteBuffer.allocate(0),
                java.nio.ByteBuffer.allocate(0));
    }

    private static SelectionEvent step(String request, int step, long pass, long eventTimeMs) {
        SelectionEvent e = StreamsTestData.selection(request, step, 0, 1, pass, 0, 7);
        e.setEventTimeMs(eventTimeMs);
        return e;
    }

    @Test
    void aPassStampedADayAheadIsDeadLetteredAndExpiresNoCommand() {
        PassEmulator emulator = new PassEmulator(new EmulatorSettings(ModelCatalog.standard(),
                HardwareConfig.load("dojo-5x5"), List.of("base", "pred"), "emu", EmulatorSettings.DEFAULT_PREDICT_N,
                PrefetchSource.TOPIC).withRequestIdleTimeout(Duration.ofSeconds(60)));
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, emulator, new WaferSnapshot());
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base("emu", "unused:9092", stateDir, Map.of()))) {
            var selections = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var passes = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            var commands = driver.createInputTopic(Topics.PREFETCH.name(), new StringSerializer(),
                    Topics.PREFETCH.valueSerde().serializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(), Topics.DEAD_LETTER.keySerde().deserializer(),
                    Topics.DEAD_LETTER.valueSerde().deserializer());
            long now = System.currentTimeMillis();
            commands.pipeInput("a", nextToken("a", 3));
            commands.pipeInput("b", nextToken("b", 2));
            // A pass at the wall clock starts the pass clock.
            selections.pipeInput("a", step("a", 1, 0, now));
            var first = StreamsTestData.pass(0, List.of(new PassEntry("a", 1, 1)));
            first.setEventTimeMs(now);
            passes.pipeInput(MODEL, first);
            assertEquals(2, emulator.pendingCommands(MODEL));
            // A day ahead: a wrong clock on some producer.
            long dayAhead = now + Duration.ofHours(24).toMillis();
            selections.pipeInput("c", step("c", 1, 1, dayAhead));
            var future = StreamsTestData.pass(1, List.of(new PassEntry("c", 1, 1)));
            future.setEventTimeMs(dayAhead);
            passes.pipeInput(MODEL, future);
            assertEquals(2, emulator.pendingCommands(MODEL), "no command expired by the future pass");
            List<DeadLetter> letters = dead.readValuesToList();
            assertEquals(2, letters.size(), "the future selection and the future pass: " + letters);
            for (DeadLetter letter : letters) {
                assertTrue(letter.getReason().contains("ahead of the wall clock"), letter.getReason());
            }
            assertEquals(Topics.PASSES.name(), letters.get(1).getSourceTopic());
        }
    }
}
