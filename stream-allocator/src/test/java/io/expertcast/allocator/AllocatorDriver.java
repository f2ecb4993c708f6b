package io.expertcast.allocator;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PlacementCommand;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;

/** The allocator's topology under a TopologyTestDriver (wall clock from 1,000,000 ms), with its topics. */
record AllocatorDriver(TopologyTestDriver driver, TestInputTopic<String, SelectionEvent> selections,
                       TestInputTopic<String, ForwardPass> passes, TestOutputTopic<String, PlacementCommand> commands,
                       TestOutputTopic<String, PlacementEntry> placement, TestOutputTopic<byte[], DeadLetter> deadLetters)
        implements AutoCloseable {

    static AllocatorDriver start(AllocatorSettings settings, Path stateDir) {
        StreamsBuilder builder = new StreamsBuilder();
        AllocatorTopology.build(builder, settings);
        TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base(settings.applicationName(), "unused:9092", stateDir, Map.of()),
                Instant.ofEpochMilli(1_000_000));
        return new AllocatorDriver(driver,
                driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                        Topics.SELECTIONS.valueSerde().serializer()),
                driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(), Topics.PASSES.valueSerde().serializer()),
                driver.createOutputTopic(Topics.PLACEMENT_COMMANDS.name(), new StringDeserializer(),
                        Topics.PLACEMENT_COMMANDS.valueSerde().deserializer()),
                driver.createOutputTopic(Topics.PLACEMENT.name(), new StringDeserializer(),
                        Topics.PLACEMENT.valueSerde().deserializer()),
                driver.createOutputTopic(Topics.DEAD_LETTER.name(), Topics.DEAD_LETTER.keySerde().deserializer(),
                        Topics.DEAD_LETTER.valueSerde().deserializer()));
    }

    @Override
    public void close() {
        driver.close();
    }
}
