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
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Pred state journalled into (real, in-memory) key-value stores and rebuilt into a fresh
 * {@link PassEmulator}, as a restarted task does: books are per (model, source), a book that moved
 * from the empty source to the model's first source is restored under that source, the sources
 * known to route bare-keyed commands come back, and so do a request's last step (it ends only when
 * every step up to it was emulated) and its used steps (a command sent again counts once).
 */
class PrefetchBookStoresTest {
    private static final EmulatorSettings SETTINGS = new EmulatorSettings(ModelCatalog.standard(),
            HardwareConfig.load("dojo-5x5"), List.of("base", "pred"), "emu", EmulatorSettings.DEFAULT_PREDICT_N,
            PrefetchSource.TOPIC);
    private PrefetchBookStores stores;

    @BeforeEach
    void stores() {
        MockProcessorContext<Object, Object> context = new MockProcessorContext<>();
        KeyValueStore<String, byte[]> progress = store(PrefetchBookStores.PROGRESS_STORE, context);
        KeyValueStore<String, byte[]> commands = store(PrefetchBookStores.COMMANDS_STORE, context);
        stores = new PrefetchBookStores(progress, commands);
    }

    private static KeyValueStore<String, byte[]> store(String name, MockProcessorContext<Object, Object> context) {
        KeyValueStore<String, byte[]> store = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name),
                Serdes.String(), Serdes.ByteArray()).withLoggingDisabled().withCachingDisabled().build();
        store.init(context.getStateStoreContext(), store);
        return store;
    }

    private static CompletedPass pass(String source, String request, long id, int step, boolean last) {
        SelectionEvent e = SelectionEvent.newBuilder(StreamsTestData.selection(request, step, 0, 1, id, 0, 7))
                .setSource(source).setLastStep(last).build();
        ForwardPass p = ForwardPass.newBuilder(StreamsTestData.pass(id, List.of(new PassEntry(request, step, 1))))
                .setSource(source).setEventTimeMs(1_000 + id).build();
        return new CompletedPass(p, List.of(e), List.of());
    }

    private static PrefetchCommand nextToken(String request, int step) {
        return new PrefetchCommand(StreamsTestData.MODEL, request, PrefetchScope.NEXT_TOKEN, step, MemoryTier.HBM,
                List.of(new LayerPrediction(0, List.of(9), List.of(1.0))), 0L, 0L, 0,
                java.nio.ByteBuffer.allocate(0), java.nio.ByteBuffer.allocate(0));
    }

    private long used(PassEmulator emulator, CompletedPass pass) {
        return emulator.emulate(pass, "emu", null, stores).deltas().stream()
                .filter(d -> d.getPolicy().equals("pred")).mapToLong(WaferMetrics::getPrefetchUsed).sum();
    }

    private PassEmulator restarted() {
        PassEmulator fresh = new PassEmulator(SETTINGS);
        stores.restoreInto(fresh);
        return fresh;
    }

    @Test
    void eachSourcesBookComesBackUnderItsSource() {
        PassEmulator first = new PassEmulator(SETTINGS);
        used(first, pass("replay-a", "r1", 0, 1, false));
        used(first, pass("replay-b", "r1", 0, 1, false));
        assertEquals("replay-a", first.offer(nextToken("r1", 2), "replay-a/r1", stores).source());
        assertEquals("replay-b", first.offer(nextToken("r1", 3), "replay-b/r1", stores).source());

        PassEmulator second = restarted();
        assertEquals(2, second.pendingCommands(StreamsTestData.MODEL));
        // Each command meets only its own source's pass.
        assertEquals(0, used(second, pass("replay-a", "r1", 1, 3, false)));
        assertEquals(1, used(second, pass("replay-b", "r1", 1, 3, false)));
        assertEquals(0, used(second, pass("replay-b", "r1", 2, 2, false)));
        assertEquals(1, used(second, pass("replay-a", "r1", 2, 2, false)));
        // Both sources are known again: a bare-keyed command of a request both run is not guessed.
        assertNotNull(second.offer(nextToken("r1", 4), "r1", stores).problem());
    }

    @Test
    void aBookMovedToTheFirstSourceIsRestoredThere() {
        PassEmulator first = new PassEmulator(SETTINGS);
        assertEquals("", first.offer(nextToken("r1", 2), "r1", stores).source()); // before any pass
        used(first, pass("replay-a", "r1", 0, 1, false)); // the model's first source takes the book

        PassEmulator second = restarted();
        assertEquals(1, used(second, pass("replay-a", "r1", 1, 2, false)));
        assertEquals(0, second.pendingCommands(StreamsTestData.MODEL));
    }

    @Test
    void lastAndUsedStepsSurviveARestart() {
        PassEmulator first = new PassEmulator(SETTINGS);
        first.offer(nextToken("r1", 1), "s/r1", stores);
        first.offer(nextToken("r1", 2), "s/r1", stores);
        assertEquals(1, used(first, pass("s", "r1", 0, 1, false)));
        // The last step's pass completes before step 2's: the request stays open for step 2's command.
        used(first, pass("s", "r1", 1, 3, true));
        assertEquals(1, first.openRequests(StreamsTestData.MODEL));

        PassEmulator second = restarted();
        // Step 1's command sent again (at-least-once): its first was used, so it is neither filed nor late.
        PassEmulator.CommandOutcome again = second.offer(nextToken("r1", 1), "s/r1", stores);
        assertNull(again.problem());
        assertEquals(PrefetchCounts.NONE, again.counts());
        // Step 2 emulated: its command is used and the request ends (its last step was seen before the restart).
        assertEquals(1, used(second, pass("s", "r1", 2, 2, false)));
        assertEquals(0, second.openRequests(StreamsTestData.MODEL));
        assertEquals(0, second.pendingCommands(StreamsTestData.MODEL));
        // What the journal holds after the end is what a third start rebuilds: nothing open.
        assertEquals(0, restarted().openRequests(StreamsTestData.MODEL));
    }
}
