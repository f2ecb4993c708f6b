package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.predict.PredictorEvaluation;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictionTable;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The recall the live topology publishes for a replay equals what {@code evaluate-predictor}
 * ({@link PredictorEvaluation}) computes offline from the same files, for both of our predictors
 * (blended decode plan, blended next token), on 12 of the bundled real Llama-4 requests.
 *
 * <p>Made deterministic, as the offline protocol is: requests one after another (the offline
 * evaluation's dataset order; a batched replay interleaves requests, and then what "before" means
 * depends on timing); heatmaps published after every update (in production on a schedule, so the live tables lag by up
 * to a publication interval); no decay (the offline table does not decay). What remains is exact: the request's
 * own latest transition, which no published table can hold yet, is added locally, and popularity is
 * learned from finished requests plus the request's own counts, which in sequential order is exactly
 * "everything before the predicted step".
 */
class LiveEqualsOfflineTest {
    private static final int N = 8;

    @TempDir
    Path stateDir;

    @Test
    void blendedRecallLiveEqualsOfflineOnTheBundledSample() {
        List<RequestTrace> all = new ArrayList<>();
        TraceDataset.open(Path.of("..", "data", "sample"), ModelCatalog.standard()).requests(false, new ArrayList<>())
                .forEachRemaining(all::add);
        assertEquals(30, all.size());
        // 6 abstract_algebra then 6 anatomy requests, in dataset order (a new subject exercises the tag
        // fallback); all 30 take minutes on a loaded machine because every update is published here.
        List<RequestTrace> requests = new ArrayList<>(all.subList(0, 6));
        requests.addAll(all.subList(15, 21));
        assertEquals(List.of("abstract_algebra", "anatomy"), requests.stream().map(RequestTrace::subject).distinct().toList());
        PredictorEvaluation offline = new PredictorEvaluation(new int[] {N});
        requests.forEach(offline::add);
        PredictorEvaluation.Result expected = offline.result();

        Duration interval = Duration.ofSeconds(1);
        PredictorSettings settings = PredictorSettings.defaults().withN(N).withPublishInterval(interval)
                .withApplicationName("live-equals-offline").withHeatmapHalfLifeTokens(0)
                .withHeatmapPublishInterval(Duration.ZERO);
        StreamsBuilder builder = new StreamsBuilder();
        PredictorTopology.build(builder, settings);
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base(settings.applicationName(), "unused:9092", stateDir, Map.of()))) {
            TestInputTopic<String, SelectionEvent> in = driver.createInputTopic(Topics.SELECTIONS.name(),
                    new StringSerializer(), Topics.SELECTIONS.valueSerde().serializer());
            TestOutputTopic<String, PredictorMetrics> metrics = driver.createOutputTopic(Topics.PREDICTOR_METRICS.name(),
                    Topics.PREDICTOR_METRICS.keySerde().deserializer(), Topics.PREDICTOR_METRICS.valueSerde().deserializer());
            TestOutputTopic<String, PrefetchCommand> prefetch = driver.createOutputTopic(Topics.PREFETCH.name(),
                    Topics.PREFETCH.keySerde().deserializer(), Topics.PREFETCH.valueSerde().deserializer());
            TestOutputTopic<String, HeatmapSnapshot> heatmaps = driver.createOutputTopic(Topics.HEATMAPS.name(),
                    Topics.HEATMAPS.keySerde().deserializer(), Topics.HEATMAPS.valueSerde().deserializer());
            TestOutputTopic<String, PredictionTable> tables = driver.createOutputTopic(Topics.PREDICTION_TABLES.name(),
                    Topics.PREDICTION_TABLES.keySerde().deserializer(), Topics.PREDICTION_TABLES.valueSerde().deserializer());
            for (RequestTrace r : requests) {
                for (SelectionEvent e : TraceEvents.lockstep(List.of(r), 256)) {
                    in.pipeInput(e.getRequestId(), e);
                }
            }
            driver.advanceWallClockTime(interval);
            Map<String, PredictorMetrics> latest = new HashMap<>();
            metrics.readKeyValuesToList().forEach(kv -> latest.put(kv.key, kv.value));

            PredictorMetrics plan = latest.get("llama4-maverick/decode_plan/*");
            PredictorMetrics next = latest.get("llama4-maverick/next_token/*");
            assertEquals(expected.decodePlanSamples(), plan.getSamples());
            assertEquals(expected.nextTokenSamples(), next.getSamples());
            assertEquals(expected.decodePlan().get("blended")[0], plan.getRecall(), 1e-12, "decode plan");
            assertEquals(expected.nextToken().get("blended")[0], next.getRecall(), 1e-12, "next token");
            assertEquals(12, plan.getRequests());
            // The per-tag figures add up to the overall ones (all are MMLU).
            assertEquals(plan.getHits(), latest.get("llama4-maverick/decode_plan/mmlu").getHits());
            assertEquals(24, plan.getLayerRecall().size());
            assertEquals(24, plan.getLayerSpearman().size());
            assertTrue(plan.getLayerSpearman().stream().allMatch(rho -> rho > -1 && rho < 1), plan.getLayerSpearman()
                    .toString());

            List<PrefetchCommand> commands = prefetch.readValuesToList();
            long decodeSteps = requests.stream().mapToLong(RequestTrace::numDecodeSteps).sum();
            long decoding = requests.stream().filter(r -> r.numDecodeSteps() > 0).count();
            assertEquals(decoding, commands.stream().filter(c -> c.getScope() == PrefetchScope.DECODE_PHASE).count());
            // One NEXT_TOKEN command per decode step but the last of each request.
            assertEquals(decodeSteps - decoding,
                    commands.stream().filter(c -> c.getScope() == PrefetchScope.NEXT_TOKEN).count());
            assertTrue(!heatmaps.isEmpty() && !tables.isEmpty());
        }
    }
}
