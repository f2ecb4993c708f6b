package io.expertcast.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.emulator.engine.BasePolicy;
import io.expertcast.emulator.engine.ExpertParallelPolicy;
import io.expertcast.emulator.engine.PassResult;
import io.expertcast.emulator.engine.WaferContext;
import io.expertcast.emulator.engine.WaferEngine;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.Assignment;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.StreamsTestData;
import io.expertcast.streams.pass.CompletedPass;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmulatorTopologyTest {
    @TempDir
    Path stateDir;

    private static final String MODEL = StreamsTestData.MODEL; // llama4-maverick: 24 MoE layers, k = 1

    private TopologyTestDriver driver() {
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, EmulatorSettings.defaults().withApplicationName("emu"));
        return new TopologyTestDriver(builder.build(), StreamsSettings.base("emu", "unused:9092", stateDir, Map.of()));
    }

    /** EP-like plan: every layer's tokens of {@code expert} on its home die. */
    private static AllocationPlan plan(long pass, int layer, int expert, int tokens, int die) {
        return new AllocationPlan(MODEL, pass, layer, 24, "dojo-5x5", List.of(new Assignment(expert, die, tokens)),
                tokens, 0L);
    }

    @Test
    void emitsCumulativeMetricsPerPolicyOncePassAndPlansAreComplete() {
        try (TopologyTestDriver driver = driver()) {
            var sIn = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var pIn = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            var planIn = driver.createInputTopic(Topics.ALLOCATIONS.name(), new StringSerializer(),
                    Topics.ALLOCATIONS.valueSerde().serializer());
            var metrics = driver.createOutputTopic(Topics.WAFER_METRICS.name(),
                    Topics.WAFER_METRICS.keySerde().deserializer(), Topics.WAFER_METRICS.valueSerde().deserializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                    Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());

            // Pass 0: request a prefills 3 tokens, all on expert 7 at every layer (home die 7*25/128 = 1).
            var sel = StreamsTestData.selection("a", 0, 0, 3, 0, 0, 7);
            sIn.pipeInput("a", sel);
            pIn.pipeInput(MODEL, StreamsTestData.pass(0, List.of(new PassEntry("a", 0, 3))));
            for (int layer = 0; layer < 23; layer++) {
                planIn.pipeInput(Topics.passKey(MODEL, 0), plan(0, layer, 7, 3, 1));
            }
            assertTrue(metrics.isEmpty(), "nothing until every layer's plan arrived");
            planIn.pipeInput(Topics.passKey(MODEL, 0), plan(0, 23, 7, 3, 1));
            var out = metrics.readKeyValuesToMap();
            assertEquals(List.of(MODEL + "/allo", MODEL + "/base", MODEL + "/ep"), out.keySet().stream().sorted().toList());

            var hw = HardwareConfig.load("dojo-5x5");
            var wafer = WaferContext.even(hw, ModelCatalog.LLAMA4_MAVERICK);
            var completed = new CompletedPass(StreamsTestData.pass(0, List.of(new PassEntry("a", 0, 3))), List.of(sel), List.of());
            PassResult base = WaferEngine.run(PassEmulator.workload(ModelCatalog.LLAMA4_MAVERICK, completed), new BasePolicy(), wafer);
            PassResult ep = WaferEngine.run(PassEmulator.workload(ModelCatalog.LLAMA4_MAVERICK, completed), new ExpertParallelPolicy(), wafer);
            WaferMetrics b = out.get(MODEL + "/base");
            assertEquals(1, b.getPasses());
            assertEquals(3, b.getTokens());
            assertEquals(base.moeNs(), b.getMoeTimeNs(), 1e-6);
            assertEquals(base.hops(), b.getHops());
            assertTrue(b.getHops() > 0, "tokens on dies 0 and 2 read expert 7 from die 1");
            assertEquals(ep.moeNs(), out.get(MODEL + "/ep").getMoeTimeNs(), 1e-6);
            assertEquals(ep.moeNs(), out.get(MODEL + "/allo").getMoeTimeNs(), 1e-6, "the plan is EP's");
            assertEquals(3 / (b.getMoeTimeNs() * 1e-9), b.getThroughputTokensPerS(), 1e-6);
            assertTrue(dead.isEmpty());

            // Pass 1 with a plan sending tokens off the mesh: dead letter; base and ep still count it.
            var sel1 = StreamsTestData.selection("b", 0, 0, 1, 1, 0, 7);
            sIn.pipeInput("b", sel1);
            pIn.pipeInput(MODEL, StreamsTestData.pass(1, List.of(new PassEntry("b", 0, 1))));
            for (int layer = 0; layer < 24; layer++) {
                planIn.pipeInput(Topics.passKey(MODEL, 1), plan(1, layer, 7, 1, layer == 5 ? 25 : 1));
            }
            var second = metrics.readKeyValuesToMap();
            assertEquals(2, second.get(MODEL + "/base").getPasses());
            assertEquals(2, second.get(MODEL + "/ep").getPasses());
            assertTrue(!second.containsKey(MODEL + "/allo"), "allo skipped the pass with the bad plan");
            List<DeadLetter> letters = new ArrayList<>(dead.readValuesToList());
            assertEquals(1, letters.size());
            assertTrue(letters.get(0).getReason().contains("die 25 outside the 5x5 mesh"), letters.get(0).getReason());
            assertEquals("emu", letters.get(0).getApplication());
        }
    }

    @Test
    void aPassForAnUnknownModelIsADeadLetter() {
        try (TopologyTestDriver driver = driver()) {
            var pIn = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                    Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());
            var pass = StreamsTestData.pass(3, List.of(new PassEntry("x", 0, 1)));
            pass.setModel("mystery-moe");
            pIn.pipeInput("mystery-moe", pass);
            assertEquals(1, dead.readValuesToList().size());
        }
    }
}
