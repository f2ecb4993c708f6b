package io.expertcast.launcher.sources;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.allocator.AllocatorSettings;
import io.expertcast.allocator.AllocatorTopology;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.emulator.EmulatorTopology;
import io.expertcast.core.wafer.Policies;
import io.expertcast.core.wafer.PrefetchSource;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.streams.pass.ScheduledPass;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.StreamsSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 item 2: two replays of the same trace at once, interleaved pass by pass, are two sources
 * of one model. The allocator plans and the emulator emulates each exactly as it would alone: the
 * plans of each source and its wafer totals under every policy equal those of a run of that source
 * alone. (Before sources, the two replays' passes of the same id merged: the allocator planned
 * passes holding both runs' tokens and the emulator rejected them.)
 */
class TwoSourcesApartTest {
    private static final Path SAMPLE = Path.of("../data/sample");
    private static final int REQUESTS = 6;
    private static final int BATCH = 3;

    @TempDir
    Path stateDir;

    @Test
    void twoInterleavedReplaysOfOneTraceArePlannedAndEmulatedAsEachAlone() {
        List<ScheduledPass> a = passes("replay-a");
        List<ScheduledPass> b = passes("replay-b");
        List<ScheduledPass> both = new ArrayList<>();
        for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
            if (i < a.size()) {
                both.add(a.get(i));
            }
            if (i < b.size()) {
                both.add(b.get(i));
            }
        }
        assertEquals(a.size(), b.size());
        assertTrue(a.size() > 10, "the sample makes " + a.size() + " passes");
        // The two replays reuse request ids and pass ids: only the source tells them apart.
        assertEquals(a.get(3).pass().getPassId(), b.get(3).pass().getPassId());

        List<KeyValue<String, AllocationPlan>> plansA = plan(a, "alone-a");
        List<KeyValue<String, AllocationPlan>> plansB = plan(b, "alone-b");
        List<KeyValue<String, AllocationPlan>> plansBoth = plan(both, "both");
        assertEquals(plansA, ofSource(plansBoth, "replay-a"));
        assertEquals(plansB, ofSource(plansBoth, "replay-b"));
        assertEquals(plansA.size() + plansB.size(), plansBoth.size());
        assertEquals(a.size() * 24L, plansA.size()); // one plan per pass and MoE layer (24)
        assertTrue(plansA.get(0).key.startsWith("llama4-maverick/replay-a/"));

        Map<String, WaferMetrics> totalsA = emulate(a, plansA, "emu-a");
        Map<String, WaferMetrics> totalsB = emulate(b, plansB, "emu-b");
        Map<String, WaferMetrics> totalsBoth = emulate(both, plansBoth, "emu-both");
        Map<String, WaferMetrics> expected = new LinkedHashMap<>(totalsA);
        expected.putAll(totalsB);
        assertEquals(expected, totalsBoth);
        assertEquals(2 * Policies.ALL.size(), totalsBoth.size());
        for (String policy : Policies.ALL) {
            WaferMetrics m = totalsBoth.get("llama4-maverick/replay-a/" + policy);
            assertEquals(a.size(), m.getPasses(), policy);
            assertEquals("replay-a", m.getSource());
        }
        assertFalse(totalsA.isEmpty());
    }

    private List<ScheduledPass> passes(String source) {
        ModelCatalog catalog = ModelCatalog.standard();
        List<RequestTrace> requests = new ArrayList<>();
        Iterator<RequestTrace> it = TraceDataset.open(SAMPLE, catalog).requests(false, new ArrayList<>());
        while (it.hasNext() && requests.size() < REQUESTS) {
            requests.add(it.next());
        }
        List<ScheduledPass> out = new ArrayList<>();
        new BatchScheduler(requests.iterator(), BATCH, 256, () -> 1_000L, BatchScheduler.Resume.NONE, source)
                .forEachRemaining(out::add);
        return out;
    }

    /** Each pass's selections then its ForwardPass, as the replayer sends them; the plans in output order. */
    private List<KeyValue<String, AllocationPlan>> plan(List<ScheduledPass> passes, String run) {
        AllocatorSettings settings = new AllocatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"),
                "alloc-" + run).withoutRebalancing();
        StreamsBuilder builder = new StreamsBuilder();
        AllocatorTopology.build(builder, settings);
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(), StreamsSettings.base(
                settings.applicationName(), "unused:9092", stateDir.resolve(run), Map.of()))) {
            pipe(driver, passes);
            return driver.createOutputTopic(Topics.ALLOCATIONS.name(), new StringDeserializer(),
                    Topics.ALLOCATIONS.valueSerde().deserializer()).readKeyValuesToList();
        }
    }

    /** The final totals per key (model/source/policy); the Pred policies forecast in-process (no predictor here). */
    private Map<String, WaferMetrics> emulate(List<ScheduledPass> passes, List<KeyValue<String, AllocationPlan>> plans,
                                              String run) {
        EmulatorSettings settings = new EmulatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"),
                Policies.ALL, run, EmulatorSettings.DEFAULT_PREDICT_N, PrefetchSource.IN_PROCESS);
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, settings);
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(), StreamsSettings.base(
                run, "unused:9092", stateDir.resolve(run), Map.of()))) {
            var planIn = driver.createInputTopic(Topics.ALLOCATIONS.name(), new StringSerializer(),
                    Topics.ALLOCATIONS.valueSerde().serializer());
            pipe(driver, passes);
            plans.forEach(kv -> planIn.pipeInput(kv.key, kv.value));
            Map<String, WaferMetrics> totals = new LinkedHashMap<>();
            driver.createOutputTopic(Topics.WAFER_METRICS.name(), new StringDeserializer(),
                            Topics.WAFER_METRICS.valueSerde().deserializer()).readKeyValuesToList()
                    .forEach(kv -> totals.put(kv.key, kv.value));
            assertTrue(driver.createOutputTopic(Topics.DEAD_LETTER.name(), Topics.DEAD_LETTER.keySerde().deserializer(),
                    Topics.DEAD_LETTER.valueSerde().deserializer()).isEmpty(), "no dead letter");
            return totals;
        }
    }

    private static void pipe(TopologyTestDriver driver, List<ScheduledPass> passes) {
        var selections = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                Topics.SELECTIONS.valueSerde().serializer());
        var forwardPasses = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                Topics.PASSES.valueSerde().serializer());
        for (ScheduledPass p : passes) {
            for (SelectionEvent e : p.selections()) {
                selections.pipeInput(Topics.selectionKey(e), e);
            }
            forwardPasses.pipeInput(p.pass().getModel(), p.pass());
        }
    }

    private static List<KeyValue<String, AllocationPlan>> ofSource(List<KeyValue<String, AllocationPlan>> plans,
                                                                   String source) {
        return plans.stream().filter(kv -> kv.value.getSource().equals(source)).toList();
    }
}
