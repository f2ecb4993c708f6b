package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.StreamsTestData;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 19 item 3 in the allocator: records stamped further ahead than the bound are dead letters, not plans. */
class AllocatorFutureEventTimeTest {
    @TempDir
    Path stateDir;

    @Test
    void aPassStampedADayAheadIsDeadLetteredAndTheNextPassIsPlanned() {
        AllocatorSettings settings = AllocatorSettings.defaults().withoutRebalancing();
        StreamsBuilder builder = new StreamsBuilder();
        AllocatorTopology.build(builder, settings);
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base(settings.applicationName(), "unused:9092", stateDir, Map.of()))) {
            var selections = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var passes = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            var plans = driver.createOutputTopic(Topics.ALLOCATIONS.name(), new StringDeserializer(),
                    Topics.ALLOCATIONS.valueSerde().deserializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(), Topics.DEAD_LETTER.keySerde().deserializer(),
                    Topics.DEAD_LETTER.valueSerde().deserializer());
            long dayAhead = System.currentTimeMillis() + Duration.ofHours(24).toMillis();
            SelectionEvent future = StreamsTestData.selection("f", 1, 0, 1, 0L, 0, 3);
            future.setEventTimeMs(dayAhead);
            selections.pipeInput("f", future);
            var futurePass = StreamsTestData.pass(0L, List.of(new PassEntry("f", 1, 1)));
            futurePass.setEventTimeMs(dayAhead);
            passes.pipeInput(StreamsTestData.MODEL, futurePass);
            assertTrue(plans.isEmpty(), "a pass from the future is not planned");
            List<DeadLetter> letters = dead.readValuesToList();
            assertEquals(2, letters.size());
            letters.forEach(l -> assertTrue(l.getReason().contains("ahead of the wall clock"), l.getReason()));

            selections.pipeInput("r", StreamsTestData.selection("r", 1, 0, 1, 1L, 0, 3));
            passes.pipeInput(StreamsTestData.MODEL, StreamsTestData.pass(1L, List.of(new PassEntry("r", 1, 1))));
            assertEquals(24, plans.readValuesToList().size(), "the next pass is planned");
        }
    }
}
