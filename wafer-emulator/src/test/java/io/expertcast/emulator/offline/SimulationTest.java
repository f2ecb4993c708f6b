package io.expertcast.emulator.offline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.core.trace.TraceDataset;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SimulationTest {
    private static Map<String, Simulation.Outcome> simulate(ModelShape model, int batch, int requests, long seed) {
        return new Simulation(model, HardwareConfig.load("dojo-5x5"), batch, Simulation.POLICIES)
                .run(new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), seed).requests(requests));
    }

    @Test
    void everyPolicyRunsTheSameFullPassesAndTheRunIsDeterministic() {
        ModelShape model = ModelCatalog.parseShape("sim:6:all:64:4");
        Map<String, Simulation.Outcome> a = simulate(model, 64, 160, 3);
        Map<String, Simulation.Outcome> b = simulate(model, 64, 160, 3);
        assertEquals(a, b, "same requests, same figures");
        long passes = a.get("base").totals().passes();
        assertTrue(passes > 10, "passes " + passes);
        for (Simulation.Outcome o : a.values()) {
            assertEquals(passes, o.totals().passes());
            assertEquals(passes * 64, o.totals().tokens(), "every pass is a full batch of decode tokens");
        }
        assertEquals(0, a.get("ep").totals().hops(), "EP computes every expert where it lives");
        assertTrue(a.get("pred").copies() > 0, "pred copies predicted experts it read remotely");
        assertTrue(a.get("pred").totals().hops() < a.get("base").totals().hops(), "copies save hops");
        assertTrue(a.get("allo").totals().throughputTokensPerS() > a.get("base").totals().throughputTokensPerS());
    }

    @Test
    void theRealSampleFillsABatchOfItsSizeAndUnknownPoliciesAreRefused() {
        ModelShape llama = ModelCatalog.LLAMA4_MAVERICK;
        Map<String, Simulation.Outcome> out = new Simulation(llama, HardwareConfig.load("dojo-5x5"), 30, Simulation.POLICIES)
                .run(TraceDataset.open(Path.of("..", "data", "sample"), ModelCatalog.standard())
                        .requests(false, new ArrayList<>()));
        assertTrue(out.get("base").totals().passes() >= 53, "every sample request decodes at least 53 steps");
        assertThrows(IllegalArgumentException.class,
                () -> new Simulation(llama, HardwareConfig.load("dojo-5x5"), 30, java.util.List.of("base", "oracle")));
    }
}
