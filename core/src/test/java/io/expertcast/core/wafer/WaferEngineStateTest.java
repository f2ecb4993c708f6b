package io.expertcast.core.wafer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An engine rebuilt from {@link WaferEngine#exportState} goes on exactly as the one it was taken from
 * (what the emulator's store relies on across a restart), and a state of another wafer is refused.
 */
class WaferEngineStateTest {
    private static final ModelShape MODEL = ModelCatalog.standard().byId("llama4-maverick").orElseThrow();
    private static final WaferContext WAFER = WaferContext.even(HardwareConfig.load("dojo-5x5"), MODEL);
    private static final Policy PRED = Policies.of(Policies.PRED, null);

    /** Pass i: 4 tokens, token t picking expert (i % 3) * 7 + t at every MoE layer (k = 1), so experts come back. */
    private static PassWorkload pass(int i) {
        int layers = MODEL.numMoeLayers();
        int[] ids = new int[4 * layers];
        for (int t = 0; t < 4; t++) {
            for (int l = 0; l < layers; l++) {
                ids[t * layers + l] = (i % 3) * 7 + t;
            }
        }
        return new PassWorkload(MODEL, i, 4, ids);
    }

    /** Copy every expert the pass reads (what a perfect forecast asks). */
    private static CopyEnable copyAll(PassWorkload pass) {
        boolean[][] predicted = new boolean[MODEL.numMoeLayers()][MODEL.numExperts()];
        for (int t = 0; t < pass.tokens(); t++) {
            for (int l = 0; l < MODEL.numMoeLayers(); l++) {
                predicted[l][pass.expert(t, l, 0)] = true;
            }
        }
        return CopyEnable.hbm(predicted);
    }

    @Test
    void anEngineRebuiltFromItsStateGoesOnExactlyAsTheOriginal() {
        WaferEngine original = new WaferEngine(WAFER, MODEL);
        for (int i = 0; i < 5; i++) {
            original.run(pass(i), PRED, copyAll(pass(i)));
        }
        WaferEngine rebuilt = new WaferEngine(WAFER, MODEL);
        rebuilt.importState(original.exportState());
        assertArrayEquals(original.exportState(), rebuilt.exportState());
        WaferEngine cold = new WaferEngine(WAFER, MODEL);
        for (int i = 5; i < 9; i++) {
            PassResult a = original.run(pass(i), PRED, copyAll(pass(i)));
            PassResult b = rebuilt.run(pass(i), PRED, copyAll(pass(i)));
            PassResult c = cold.run(pass(i), PRED, copyAll(pass(i)));
            assertArrayEquals(a.layerNs(), b.layerNs(), "pass " + i);
            assertEquals(List.of(a.hops(), a.localReads(), a.remoteReads(), a.copyReads(), a.copyWrites(), a.llcHits()),
                    List.of(b.hops(), b.localReads(), b.remoteReads(), b.copyReads(), b.copyWrites(), b.llcHits()));
            assertArrayEquals(a.linkBytes(), b.linkBytes());
            if (i == 5) {
                // The state matters: the original reads the copies earlier passes wrote, a cold wafer cannot.
                assertTrue(a.copyReads() > 0 && c.copyReads() == 0, a.copyReads() + " vs cold " + c.copyReads());
            }
        }
    }

    @Test
    void aStateOfAnotherWaferIsRefusedAndChangesNothing() {
        WaferEngine other = new WaferEngine(WaferContext.even(HardwareConfig.load("tsmc-sow-8x3"), MODEL), MODEL);
        other.run(pass(0), PRED, copyAll(pass(0)));
        WaferEngine engine = new WaferEngine(WAFER, MODEL);
        engine.run(pass(1), PRED, copyAll(pass(1)));
        byte[] before = engine.exportState();
        assertThrows(IllegalArgumentException.class, () -> engine.importState(other.exportState()));
        assertThrows(IllegalArgumentException.class, () -> engine.importState(new byte[] {1, 2, 3}));
        assertArrayEquals(before, engine.exportState());
    }

}
