package io.expertcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.schemas.PrefetchPredictions;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;

class PassThroughBaselineTest {

    /** 3 MoE layers, top-2: ids laid out [layer][k], one decode token. */
    private static SelectionEvent event(String request, int step, Phase phase, int... ids) {
        ByteBuffer packed = ByteBuffer.allocate(ids.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int id : ids) {
            packed.putShort((short) id);
        }
        packed.flip();
        return SelectionEvent.newBuilder().setModel("m").setRequestId(request).setStep(step).setPhase(phase)
                .setTokenOffset(0).setTokenCount(1).setPassId(42).setBatchTokenOffset(0).setNumMoeLayers(3)
                .setTopK(2).setExpertIds(packed).setEventTimeMs(1000).build();
    }

    @Test
    void aDecodeEventBecomesACommandRepeatingItsExpertsAtEveryLayer() {
        PrefetchCommand c = PassThroughBaseline.repeatLastStep(event("r", 4, Phase.DECODE, 5, 6, 7, 8, 40000, 9));
        assertEquals(PrefetchScope.NEXT_TOKEN, c.getScope());
        assertEquals(5, c.getTargetStep());
        assertEquals(42, c.getSourcePassId());
        assertEquals(3, PrefetchPredictions.layers(c));
        assertEquals(List.of(5, 6), experts(c, 0));
        assertEquals(List.of(7, 8), experts(c, 1));
        assertEquals(List.of(40000, 9), experts(c, 2)); // uint16, not a signed short
        assertEquals(0.5, PrefetchPredictions.score(c, 2, 1), 1e-4);
        assertEquals(2, PrefetchPredictions.layer(c, 2));
    }

    private static List<Integer> experts(PrefetchCommand c, int layer) {
        List<Integer> ids = new java.util.ArrayList<>();
        for (int j = 0; j < PrefetchPredictions.expertCount(c, layer); j++) {
            ids.add(PrefetchPredictions.expert(c, layer, j));
        }
        return ids;
    }

    @Test
    void onlyDecodeEventsGoOutOnePerEventFromEitherInput() {
        Properties config = new Properties();
        config.put(StreamsConfig.APPLICATION_ID_CONFIG, "pass-through-test");
        config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        try (TopologyTestDriver driver = new TopologyTestDriver(PassThroughBaseline.topology(), config)) {
            TestInputTopic<String, SelectionEvent> in = driver.createInputTopic(Topics.SELECTIONS.name(),
                    new StringSerializer(), Topics.SELECTIONS.valueSerde().serializer());
            TestOutputTopic<String, PrefetchCommand> out = driver.createOutputTopic(PassThroughBaseline.OUTPUT_TOPIC,
                    new StringDeserializer(), Topics.PREFETCH.valueSerde().deserializer());
            in.pipeInput("a", event("a", 0, Phase.PREFILL, 1, 2, 3, 4, 5, 6));
            in.pipeInput("a", event("a", 1, Phase.DECODE, 1, 2, 3, 4, 5, 6));
            in.pipeInput("b", event("b", 7, Phase.DECODE, 9, 8, 7, 6, 5, 4));
            TestInputTopic<String, SelectionEvent> paced = driver.createInputTopic(
                    PassThroughBaseline.PACED_INPUT_TOPIC, new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            paced.pipeInput("c", event("c", 0, Phase.PREFILL, 1, 2, 3, 4, 5, 6));
            paced.pipeInput("c", event("c", 3, Phase.DECODE, 1, 2, 3, 4, 5, 6));
            var commands = out.readKeyValuesToList();
            assertEquals(3, commands.size());
            assertEquals("c", commands.get(2).key);
            assertEquals(4, commands.get(2).value.getTargetStep());
            assertEquals("a", commands.get(0).key);
            assertEquals(2, commands.get(0).value.getTargetStep());
            assertEquals("b", commands.get(1).key);
            assertEquals(List.of(5, 4), experts(commands.get(1).value, 2));
        }
    }
}
