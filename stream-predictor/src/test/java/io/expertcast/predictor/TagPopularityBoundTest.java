package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.schemas.HeatmapSnapshot;
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

/** Per-tag popularity is bounded: a tag beyond the bound evicts the least recently counted one, deleted from the topic. */
class TagPopularityBoundTest {
    private static final ModelShape TOY = new ModelShape("toy-moe", 4, new int[] {0, 1, 2, 3}, 32, 4, 64, 64, 2.0);

    @TempDir
    Path stateDir;

    @Test
    void aTagBeyondTheBoundEvictsTheLeastRecentlyCountedAndDeletesItsSnapshot() {
        PredictorSettings settings = PredictorSettings.defaults().withCatalog(ModelCatalog.standard().register(TOY))
                .withN(4).withPublishInterval(Duration.ofMillis(500)).withHeatmapPublishInterval(Duration.ZERO);
        StreamsBuilder builder = new StreamsBuilder();
        PredictorTopology.build(builder, settings);
        Map<String, Object> overrides = new HashMap<>();
        // a request counts 3 tags (s:mmlu/<subject>, b:mmlu, l:en): 4 keep two subjects
        overrides.put(LayerHeatmapProcessor.MAX_TAGS_CONFIG, 4);
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base(settings.applicationName(), "unused:9092", stateDir, overrides))) {
            TestInputTopic<String, SelectionEvent> in = driver.createInputTopic(Topics.SELECTIONS.name(),
                    new StringSerializer(), Topics.SELECTIONS.valueSerde().serializer());
            TestOutputTopic<String, HeatmapSnapshot> heatmaps = driver.createOutputTopic(Topics.HEATMAPS.name(),
                    Topics.HEATMAPS.keySerde().deserializer(), Topics.HEATMAPS.valueSerde().deserializer());
            List<RequestTrace> requests = new ArrayList<>();
            for (String subject : List.of("anatomy", "algebra", "anatomy", "virology")) {
                RequestTrace r = TraceEvents.randomRequest(TOY, "toy/" + requests.size(), 3, 2, requests.size());
                requests.add(new RequestTrace(TOY, r.requestId(), r.benchmark(), subject, r.language(), r.steps()));
            }
            for (RequestTrace r : requests) { // one after another: each finishes before the next begins
                for (SelectionEvent e : TraceEvents.lockstep(List.of(r), 8)) {
                    in.pipeInput(e.getRequestId(), e);
                }
            }
            Map<String, HeatmapSnapshot> latest = new HashMap<>();
            heatmaps.readKeyValuesToList().forEach(kv -> latest.put(kv.key, kv.value));
            String algebra = HeatmapRecords.popularityKey(TOY.id(), 0, "s:mmlu/algebra");
            String anatomy = HeatmapRecords.popularityKey(TOY.id(), 0, "s:mmlu/anatomy");
            String virology = HeatmapRecords.popularityKey(TOY.id(), 0, "s:mmlu/virology");
            // anatomy (counted again third) stays; algebra was the least recently counted when virology came.
            assertTrue(latest.containsKey(algebra), "algebra was published before its eviction");
            assertNull(latest.get(algebra), "its snapshot is deleted (tombstone)");
            assertTrue(latest.get(anatomy) != null && latest.get(virology) != null);
        }
    }
}
