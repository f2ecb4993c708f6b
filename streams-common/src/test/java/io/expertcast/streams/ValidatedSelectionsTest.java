package io.expertcast.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Produced;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ValidatedSelectionsTest {

    @TempDir
    Path stateDir;

    private TopologyTestDriver driver() {
        StreamsBuilder builder = new StreamsBuilder();
        ValidatedSelections.stream(builder, ModelCatalog.standard(), "test-app")
                .to("valid-out", Produced.with(Topics.SELECTIONS.keySerde(), Topics.SELECTIONS.valueSerde()));
        return new TopologyTestDriver(builder.build(),
                StreamsSettings.base("test-app", "unused:9092", stateDir, Map.of()));
    }

    @Test
    void validEventsPassAndInvalidOnesBecomeDeadLettersWithReasonAndOffset() {
        try (TopologyTestDriver driver = driver()) {
            var in = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var valid = driver.createOutputTopic("valid-out", Topics.SELECTIONS.keySerde().deserializer(),
                    Topics.SELECTIONS.valueSerde().deserializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                    Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());

            SelectionEvent good = StreamsTestData.selection("r1", 0, 0, 2, 0, 0, 5);
            SelectionEvent unknownModel = SelectionEvent.newBuilder(good).setModel("gpt-moe").build();
            SelectionEvent outOfRange = StreamsTestData.selection("r2", 0, 0, 1, 0, 2, 128);
            SelectionEvent wrongK = SelectionEvent.newBuilder(good).setTopK(8).build();
            SelectionEvent wrongLayers = SelectionEvent.newBuilder(good).setNumMoeLayers(48).build();
            SelectionEvent shortPayload = SelectionEvent.newBuilder(good)
                    .setExpertIds(ByteBuffer.wrap(new byte[10])).build();
            SelectionEvent phaseMismatch = SelectionEvent.newBuilder(good).setStep(3).build();
            for (SelectionEvent e : List.of(good, unknownModel, outOfRange, wrongK, wrongLayers, shortPayload,
                    phaseMismatch, good)) {
                in.pipeInput(e.getRequestId(), e);
            }
            assertEquals(2, valid.readValuesToList().size());
            List<DeadLetter> letters = dead.readValuesToList();
            assertEquals(6, letters.size());
            assertTrue(letters.get(0).getReason().contains("unknown model 'gpt-moe'"));
            assertTrue(letters.get(1).getReason().contains("expert id 128 out of range"));
            assertTrue(letters.get(2).getReason().contains("wrong k"));
            assertTrue(letters.get(3).getReason().contains("MoE layers"));
            assertTrue(letters.get(4).getReason().contains("payload"));
            assertTrue(letters.get(5).getReason().contains("phase"));
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), letters.stream().map(DeadLetter::getSourceOffset).toList());
            assertEquals("test-app", letters.get(0).getApplication());
            assertEquals(Topics.SELECTIONS.name(), letters.get(0).getSourceTopic());
            // The raw record rides along so nothing is lost.
            assertEquals(unknownModel, Topics.SELECTIONS.valueSerde().deserializer()
                    .deserialize("t", letters.get(0).getValue().array()));
        }
    }

    @Test
    void undecodableBytesBecomeADeadLetterAndProcessingGoesOn() {
        try (TopologyTestDriver driver = driver()) {
            var raw = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    new ByteArraySerializer());
            var valid = driver.createOutputTopic("valid-out", Topics.SELECTIONS.keySerde().deserializer(),
                    Topics.SELECTIONS.valueSerde().deserializer());
            byte[] good = Topics.SELECTIONS.valueSerde().serializer()
                    .serialize("t", StreamsTestData.selection("r1", 0, 0, 1, 0, 0, 3));
            raw.pipeInput("r0", Arrays.copyOf(good, good.length / 2));
            raw.pipeInput("r1", good);
            // The test driver does not surface the handler's dead-letter records (the real-broker
            // integration test checks them on the topic); here: the bad record does not stop the task.
            assertEquals(1, valid.readValuesToList().size());
        }
    }

    @Test
    void theDeserializationHandlerResumesWithADeadLetterCarryingReasonAndOffset() {
        DeadLetterDeserializationHandler handler = new DeadLetterDeserializationHandler();
        handler.configure(Map.of("application.id", "expertcast-predictor"));
        byte[] value = {1, 2, 3};
        var record = new org.apache.kafka.clients.consumer.ConsumerRecord<>("moe.selections", 2, 41L,
                "r9".getBytes(), value);
        var response = handler.handleError(null, record,
                new org.apache.kafka.common.errors.SerializationException("cannot decode"));
        assertEquals(org.apache.kafka.streams.errors.DeserializationExceptionHandler.Result.RESUME, response.result());
        assertEquals(1, response.deadLetterQueueRecords().size());
        var out = response.deadLetterQueueRecords().get(0);
        assertEquals(Topics.DEAD_LETTER.name(), out.topic());
        DeadLetter letter = Topics.DEAD_LETTER.valueSerde().deserializer().deserialize(out.topic(), out.value());
        assertEquals("expertcast-predictor", letter.getApplication());
        assertEquals(2, letter.getSourcePartition());
        assertEquals(41L, letter.getSourceOffset());
        assertTrue(letter.getReason().contains("cannot decode"));
        assertEquals(3, letter.getValue().remaining());
    }

    @Test
    void aSourceIdWithTheKeySeparatorBecomesADeadLetter() {
        try (TopologyTestDriver driver = driver()) {
            var in = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var valid = driver.createOutputTopic("valid-out", Topics.SELECTIONS.keySerde().deserializer(),
                    Topics.SELECTIONS.valueSerde().deserializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                    Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());
            SelectionEvent good = SelectionEvent.newBuilder(StreamsTestData.selection("r1", 0, 0, 2, 0, 0, 5))
                    .setSource("engine-1").build();
            in.pipeInput("r1", good);
            in.pipeInput("r1", SelectionEvent.newBuilder(good).setSource("engine/1").build());
            assertEquals(List.of(good), valid.readValuesToList());
            List<DeadLetter> letters = dead.readValuesToList();
            assertEquals(1, letters.size());
            assertTrue(letters.get(0).getReason().contains("source id 'engine/1'"), letters.get(0).getReason());
        }
    }
}
