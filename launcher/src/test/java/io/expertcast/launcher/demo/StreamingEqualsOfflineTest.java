package io.expertcast.launcher.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.core.wafer.Policies;
import io.expertcast.core.wafer.PolicyTotals;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.core.wafer.DecodeOnlySource;
import io.expertcast.offline.Simulation;
import io.expertcast.core.wafer.PrefetchSource;
import io.expertcast.local.TopicAdmin;
import io.expertcast.replayer.ReplayOptions;
import io.expertcast.replayer.ReplaySummary;
import io.expertcast.replayer.TraceReplayer;
import io.expertcast.core.trace.source.DatasetSource;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 6, item 6: the bundled real Llama-4 requests, decode only, replayed through Kafka into the
 * allocator and the emulator give exactly the per-policy totals {@code simulate} computes offline
 * (Algorithm 1 in-process, no Kafka), for all five policies. One partition per topic, so the
 * emulator sees a model's passes in order (its Pred state, the heatmap and the HBM copies, depends
 * on it). The emulator runs with the prefetch source in-process, the offline path's forecast; with
 * the default (topic) its Pred policies execute the predictor's commands instead, which
 * PipelineIntegrationTest checks.
 */
class StreamingEqualsOfflineTest {
    private static final Path SAMPLE = Path.of("../data/sample");
    private static final int BATCH = 8;

    @TempDir
    Path stateDir;

    @Test
    void everyPolicysTotalsOnMoeWaferMetricsEqualTheOfflineSimulation() throws Exception {
        ModelCatalog catalog = ModelCatalog.standard();
        EmulatorSettings settings = EmulatorSettings.defaults().withPrefetchSource(PrefetchSource.IN_PROCESS);
        assertEquals(Policies.ALL, settings.policies());
        Simulation.Result offline = new Simulation(catalog, settings.policies(), settings.predictN(), 0)
                .run(List.of(HardwareConfig.load("dojo-5x5")), List.of(BATCH), () -> new DatasetSource(SAMPLE, catalog, 0));
        assertEquals(5, offline.rows().size());

        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            try (TopicAdmin admin = new TopicAdmin(kafka.bootstrapServers(), Duration.ofSeconds(30))) {
                admin.createAll(Topics.ALL, 1, (short) 1);
            }
            try (PipelineStages stages = PipelineStages.start(kafka.bootstrapServers(), stateDir, "se-", Map.of(),
                    new WaferSnapshot(), settings)) {
                stages.awaitRunning(Duration.ofSeconds(90));
                ReplaySummary replay = TraceReplayer.replay(new ReplayOptions(kafka.bootstrapServers(), SAMPLE, BATCH, 0,
                        0, false, 256), List.of(new DecodeOnlySource(new DatasetSource(SAMPLE, catalog, 0), 0, catalog)),
                        null);
                long passes = offline.rows().get(0).totals().passes();
                assertEquals(passes, replay.passes());
                try (PipelineOutputs out = new PipelineOutputs(kafka.bootstrapServers())) {
                    Poll.until(Duration.ofSeconds(120), () -> {
                        out.poll(Duration.ofMillis(200));
                        return settings.policies().stream().allMatch(p -> {
                            WaferMetrics m = out.waferMetrics().get("llama4-maverick/" + p);
                            return m != null && m.getPasses() == passes;
                        });
                    }, "every policy's totals over " + passes + " passes: " + out.waferMetrics().keySet());
                    for (Simulation.Row row : offline.rows()) {
                        PolicyTotals expected = row.totals();
                        WaferMetrics live = out.waferMetrics().get(row.model() + "/" + row.policy());
                        String p = row.policy();
                        assertEquals(expected.tokens(), live.getTokens(), p);
                        assertEquals(expected.moeNs(), live.getMoeTimeNs(), 0.0, p);
                        assertEquals(expected.meanDieNs(), live.getMeanDieNs(), 0.0, p);
                        assertEquals(expected.hops(), live.getHops(), p);
                        assertEquals(expected.reads(), live.getReads(), p);
                        assertEquals(expected.localReads(), live.getLocalReads(), p);
                        assertEquals(expected.remoteReads(), live.getRemoteReads(), p);
                        assertEquals(expected.copyReads(), live.getCopyReads(), p);
                        assertEquals(expected.copyWrites(), live.getCopyWrites(), p);
                        assertEquals(expected.llcHits(), live.getLlcHits(), p);
                        assertEquals(expected.linkBytes(), live.getLinkBytes(), p);
                        assertEquals(expected.throughputTokensPerS(), live.getThroughputTokensPerS(), 0.0, p);
                    }
                    PolicyTotals pred = offline.rows().stream().filter(r -> r.policy().equals(Policies.PRED))
                            .findFirst().orElseThrow().totals();
                    assertTrue(pred.copyWrites() > 0 && pred.copyReads() > 0, "the Pred policy copied and reused experts");
                    assertEquals(List.of(), out.deadLetters());
                }
            }
        }
    }
}
