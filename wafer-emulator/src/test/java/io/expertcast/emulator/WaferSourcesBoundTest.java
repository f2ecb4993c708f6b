package io.expertcast.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.emulator.prefetch.PrefetchBook;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.streams.StreamsTestData;
import io.expertcast.streams.pass.CompletedPass;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every source (engine instance, replay; a generated replay id is a new one each run) gets a wafer of
 * its own, one engine per policy, so the emulator's memory grew with every source it ever saw. At most
 * {@link PassEmulator#MAX_SOURCES_CONFIG} wafers are kept per model: a new source evicts the least
 * recently emulated one, the eviction is counted and its engines' stored state deleted.
 */
class WaferSourcesBoundTest {
    private static final String MODEL = StreamsTestData.MODEL;

    private static CompletedPass pass(String source, long id) {
        SelectionEvent e = SelectionEvent.newBuilder(StreamsTestData.selection("r1", 1, 0, 1, id, 0, 7))
                .setSource(source).build();
        ForwardPass p = ForwardPass.newBuilder(StreamsTestData.pass(id, List.of(new PassEntry("r1", 1, 1))))
                .setSource(source).build();
        return new CompletedPass(p, List.of(e), List.of());
    }

    @Test
    void aModelKeepsTheWafersOfItsMostRecentSourcesOnly() {
        PassEmulator emulator = new PassEmulator(new EmulatorSettings(ModelCatalog.standard(),
                HardwareConfig.load("dojo-5x5"), List.of("base", "ep"), "emu"));
        emulator.maxSourcesPerModel(2);
        List<String> stored = new ArrayList<>();
        List<String> forgotten = new ArrayList<>();
        PassEmulator.Journals journals = new PassEmulator.Journals() {
            @Override
            public PrefetchBook.Journal of(String model, String source) {
                return PrefetchBook.Journal.NONE;
            }

            @Override
            public void moved(String model, String fromSource, String toSource) {
            }

            @Override
            public String owner() {
                return "0_0";
            }

            @Override
            public void engine(String model, String source, String policy, byte[] state) {
                stored.add(source + "/" + policy);
            }

            @Override
            public void forget(String model, String source, String policy) {
                forgotten.add(source + "/" + policy);
            }
        };
        emulator.emulate(pass("a", 0), "emu", null, journals);
        emulator.emulate(pass("b", 0), "emu", null, journals);
        emulator.emulate(pass("a", 1), "emu", null, journals); // a is now the most recent
        assertEquals(0, emulator.wafersEvicted());
        emulator.emulate(pass("c", 0), "emu", null, journals); // evicts b
        assertEquals(1, emulator.wafersEvicted());
        assertNull(emulator.engine(MODEL, "b", "base"));
        assertNotNull(emulator.engine(MODEL, "a", "base"));
        assertNotNull(emulator.engine(MODEL, "c", "ep"));
        assertEquals(List.of("b/base", "b/ep"), forgotten);
        assertEquals(8, stored.size(), "each pass stores both engines: " + stored);
    }
}
