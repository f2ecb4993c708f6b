package io.expertcast.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.wafer.PrefetchCounts;
import io.expertcast.core.wafer.PrefetchSource;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.LayerPrediction;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.StreamsTestData;
import io.expertcast.streams.pass.CompletedPass;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Prefetch commands never cross sources: two sources run the same request id, and a command is
 * applied only to the passes of the source its moe.prefetch key names; a command keyed by the bare
 * request id is filed with the model's only source, and, once two sources run that request, is a
 * dead letter rather than a guess.
 */
class PrefetchSourcesTest {
    private final PassEmulator emulator = new PassEmulator(new EmulatorSettings(ModelCatalog.standard(),
            HardwareConfig.load("dojo-5x5"), List.of("base", "pred"), "emu", EmulatorSettings.DEFAULT_PREDICT_N,
            PrefetchSource.TOPIC));

    private static CompletedPass pass(String source, long id, int step, boolean last) {
        SelectionEvent e = SelectionEvent.newBuilder(StreamsTestData.selection("r1", step, 0, 1, id, 0, 7))
                .setSource(source).setLastStep(last).build();
        ForwardPass p = ForwardPass.newBuilder(StreamsTestData.pass(id, List.of(new PassEntry("r1", step, 1))))
                .setSource(source).build();
        return new CompletedPass(p, List.of(e), List.of());
    }

    private static PrefetchCommand nextToken(int step) {
        return new PrefetchCommand(StreamsTestData.MODEL, "r1", PrefetchScope.NEXT_TOKEN, step, MemoryTier.HBM,
                List.of(new LayerPrediction(0, List.of(9), List.of(1.0))), 0L, 0L, 0,
                java.nio.ByteBuffer.allocate(0), java.nio.ByteBuffer.allocate(0));
    }

    private static long used(PassEmulator.Outcome outcome) {
        return outcome.deltas().stream().filter(d -> d.getPolicy().equals("pred"))
                .mapToLong(WaferMetrics::getPrefetchUsed).sum();
    }

    @Test
    void aCommandIsAppliedOnlyToTheSourceItsKeyNames() {
        // A bare-keyed command before any pass: the model's first source gets it.
        assertEquals("", emulator.offer(nextToken(1), "r1").source());
        assertEquals(1, used(emulator.emulate(pass("replay-a", 0, 1, false), "emu")));
        assertEquals(0, used(emulator.emulate(pass("replay-b", 0, 1, false), "emu")));

        // Keyed source/request: only that source's pass of step 2 uses it, though both run r1 step 2.
        PassEmulator.CommandOutcome named = emulator.offer(nextToken(2), "replay-b/r1");
        assertNull(named.problem());
        assertEquals("replay-b", named.source());
        assertEquals(0, used(emulator.emulate(pass("replay-a", 1, 2, false), "emu")));
        assertEquals(1, used(emulator.emulate(pass("replay-b", 1, 2, false), "emu")));

        // Bare-keyed with two sources running r1: not guessed, a dead letter counted as unknown.
        PassEmulator.CommandOutcome ambiguous = emulator.offer(nextToken(3), "r1");
        assertNotNull(ambiguous.problem());
        assertEquals(new PrefetchCounts(0, 0, 1, 0), ambiguous.counts());
        assertEquals(0, used(emulator.emulate(pass("replay-a", 2, 3, true), "emu")));
        assertEquals(0, used(emulator.emulate(pass("replay-b", 2, 3, true), "emu")));
        assertEquals(0, emulator.pendingCommands(StreamsTestData.MODEL));
    }

    @Test
    void aBareKeyedCommandGoesToTheOneSourceThatRunsItsRequest() {
        emulator.emulate(pass("replay-a", 0, 0, false), "emu");
        CompletedPass other = new CompletedPass(ForwardPass.newBuilder(StreamsTestData.pass(0,
                List.of(new PassEntry("r2", 0, 1)))).setSource("replay-b").build(),
                List.of(SelectionEvent.newBuilder(StreamsTestData.selection("r2", 0, 0, 1, 0, 0, 7))
                        .setSource("replay-b").build()), List.of());
        emulator.emulate(other, "emu");
        PassEmulator.CommandOutcome outcome = emulator.offer(nextToken(1), "r1");
        assertNull(outcome.problem());
        assertEquals("replay-a", outcome.source());
        assertEquals(1, used(emulator.emulate(pass("replay-a", 1, 1, false), "emu")));
    }
}
