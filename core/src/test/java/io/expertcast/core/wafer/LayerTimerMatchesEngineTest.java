package io.expertcast.core.wafer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.allocation.LayerTimer;
import io.expertcast.core.allocation.LlcResidency;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The allocator judges plans with core's {@link LayerTimer}; it must give the engine's layer time to
 * the rounding, for any plan (pieces on any die, far from the holders, replicas, LLC hits), or the
 * allocator's "never slower than EP" would not hold on the emulator.
 */
class LayerTimerMatchesEngineTest {

    /** Random plans; at each layer's start the policy times its own plan with the engine's caches as they are then. */
    private static final class RandomPlans implements Policy {
        final Random random;
        final LayerTimer timer;
        final List<Double> predicted = new ArrayList<>();
        WaferEngine engine;

        RandomPlans(long seed, HardwareConfig hw) {
            this.random = new Random(seed);
            this.timer = new LayerTimer(hw);
        }

        @Override
        public String name() {
            return "random";
        }

        @Override
        public LayerWork assign(PassWorkload pass, int moeLayer, WaferContext wafer) {
            int dies = wafer.mesh().dies();
            int experts = pass.model().numExperts();
            LayerWork work = new LayerWork(dies, experts);
            for (int e = 0; e < experts; e++) {
                if (random.nextInt(3) == 0) {
                    continue;
                }
                int pieces = 1 + random.nextInt(3);
                for (int p = 0; p < pieces; p++) {
                    int die = random.nextBoolean() ? wafer.table().homeDie(moeLayer, e) : random.nextInt(dies);
                    work.add(die, e, 1 + random.nextInt(2000));
                }
            }
            int n = 0;
            int[] die = new int[dies * experts];
            int[] expert = new int[dies * experts];
            int[] tokens = new int[dies * experts];
            for (int d = 0; d < dies; d++) {
                for (int e = 0; e < experts; e++) {
                    if (work.tokens(d, e) > 0) {
                        die[n] = d;
                        expert[n] = e;
                        tokens[n++] = work.tokens(d, e);
                    }
                }
            }
            LlcResidency llc = (l, e, d) -> engine.llcHolds(d, l, e);
            predicted.add(timer.time(pass.model(), wafer.table(), moeLayer, n, die, expert, tokens, llc,
                    LlcResidency.NONE, null));
            return work;
        }
    }

    @Test
    void theTimerGivesTheEnginesLayerTimeForRandomPlans() {
        Random tokens = new Random(5);
        int layersChecked = 0;
        for (String preset : HardwareConfig.PRESETS) {
            HardwareConfig hw = HardwareConfig.load(preset);
            // Qwen3's experts fit the LLC (hits happen across passes), DeepSeek's do not; Llama-4 is top-1.
            for (ModelShape model : List.of(ModelCatalog.QWEN3_235B, ModelCatalog.DEEPSEEK_V3, ModelCatalog.LLAMA4_MAVERICK)) {
                WaferContext wafer = WaferContext.even(hw, model);
                for (int i = 0; i < 15; i++) { // replicas: some experts have several holders
                    wafer.table().replicate(tokens.nextInt(model.numMoeLayers()), tokens.nextInt(model.numExperts()),
                            tokens.nextInt(hw.dies()));
                }
                RandomPlans policy = new RandomPlans(model.numExperts() * 31L + hw.dies(), hw);
                WaferEngine engine = new WaferEngine(wafer, model);
                policy.engine = engine;
                for (int pass = 0; pass < 2; pass++) {
                    int n = 64;
                    int[] ids = new int[n * model.numMoeLayers() * model.topK()];
                    for (int t = 0; t < n; t++) {
                        for (int l = 0; l < model.numMoeLayers(); l++) {
                            for (int k = 0; k < model.topK(); k++) {
                                ids[(t * model.numMoeLayers() + l) * model.topK() + k] = (t * 7 + k * 13 + l) % model.numExperts();
                            }
                        }
                    }
                    policy.predicted.clear();
                    PassResult r = engine.run(new PassWorkload(model, pass, n, ids), policy, null);
                    for (int l = 0; l < model.numMoeLayers(); l++) {
                        double expected = r.layerNs()[l];
                        assertEquals(expected, policy.predicted.get(l), 1e-9 * expected + 1e-6,
                                preset + " " + model.id() + " pass " + pass + " layer " + l);
                        layersChecked++;
                    }
                }
            }
        }
        assertTrue(layersChecked > 500, "checked " + layersChecked);
    }
}
