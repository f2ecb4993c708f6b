package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.core.placement.HbmCapacity;
import io.expertcast.core.placement.PlacementMove;
import io.expertcast.core.placement.PlacementPolicies;
import io.expertcast.core.placement.WorkloadProfiles;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.ExpertLoad;
import io.expertcast.schemas.PlacementCommand;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Live load windows (moe.expert-load, from attach) re-place experts within the move budget, as tagged traffic does. */
class ExpertLoadRebalanceTest {
    private static final ModelShape DEEPSEEK = ModelCatalog.DEEPSEEK_V3;
    private static final HardwareConfig HW = HardwareConfig.load("dojo-5x5");

    @TempDir
    Path stateDir;
    private TopologyTestDriver driver;
    private TestInputTopic<String, ExpertLoad> loads;
    private TestOutputTopic<String, PlacementCommand> commands;
    private TestOutputTopic<byte[], DeadLetter> deadLetters;

    @BeforeEach
    void start() {
        AllocatorSettings settings = new AllocatorSettings(ModelCatalog.standard(), HW, "live-load-test",
                new ProfileRebalancing("hot-replicate", 600_000, 4, 0.999));
        StreamsBuilder builder = new StreamsBuilder();
        AllocatorTopology.build(builder, settings);
        driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base(settings.applicationName(), "unused:9092", stateDir, Map.of()),
                Instant.ofEpochMilli(1_000_000));
        loads = driver.createInputTopic(Topics.EXPERT_LOAD.name(), new StringSerializer(),
                Topics.EXPERT_LOAD.valueSerde().serializer());
        commands = driver.createOutputTopic(Topics.PLACEMENT_COMMANDS.name(), new StringDeserializer(),
                Topics.PLACEMENT_COMMANDS.valueSerde().deserializer());
        deadLetters = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    /** A window where every MoE layer's first 16 experts are hot, dense layers zero. */
    private static ExpertLoad window(String mode, int layers, int experts) {
        List<Long> counts = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                counts.add(l < 3 ? 0L : e < 16 ? 500L : 10L);
            }
        }
        return new ExpertLoad("deepseek-v3", "sglang@10.0.0.1:30000", "expert_distribution_recorder_1.0.pt", mode, -1,
                layers, experts, counts, 1_000L);
    }

    @Test
    void aStatWindowReplacesExpertsForItsSourceWithinTheBudget() {
        loads.pipeInput("deepseek-v3/sglang@10.0.0.1:30000", window("stat", 61, 256));
        List<PlacementCommand> sent = commands.readValuesToList();
        assertFalse(sent.isEmpty(), "the source's first load re-places experts");
        int[][] moeCounts = new int[DEEPSEEK.numMoeLayers()][256];
        for (int[] row : moeCounts) {
            for (int e = 0; e < 256; e++) {
                row[e] = e < 16 ? 500 : 10;
            }
        }
        double[][] load = new double[moeCounts.length][256];
        for (int l = 0; l < load.length; l++) {
            for (int e = 0; e < 256; e++) {
                load[l][e] = moeCounts[l][e];
            }
        }
        int slots = HbmCapacity.slotsPerDiePerLayer(HW, DEEPSEEK);
        List<PlacementMove> expected = WorkloadProfiles.rebalance(load, ExpertDistributionTable.even(DEEPSEEK, HW.dies()),
                PlacementPolicies.byName("hot-replicate"), (slots - 1) * HW.dies() - 256, 4, slots,
                DEEPSEEK.expertBytes(), Mesh.of(HW));
        assertEquals(expected.size(), sent.size());
        for (int i = 0; i < sent.size(); i++) {
            assertEquals(expected.get(i).expert(), sent.get(i).getExpert());
            assertEquals(expected.get(i).layer(), sent.get(i).getLayer());
            assertTrue(sent.get(i).getReason().contains("live:sglang@10.0.0.1:30000"), sent.get(i).getReason());
        }
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void perTokenWindowsAreNotCountedTwiceAndALoadOfTheWrongShapeIsADeadLetter() {
        loads.pipeInput("deepseek-v3/a", window("per_token", 61, 256));
        assertTrue(commands.isEmpty(), "per_token tokens reach the allocator as selections");
        loads.pipeInput("deepseek-v3/a", window("per_pass", 60, 256));
        assertTrue(commands.isEmpty());
        DeadLetter d = deadLetters.readValue();
        assertTrue(d.getReason().contains("60 layers x 256 experts"), d.getReason());
        assertEquals(Topics.EXPERT_LOAD.name(), d.getSourceTopic());
    }
}
