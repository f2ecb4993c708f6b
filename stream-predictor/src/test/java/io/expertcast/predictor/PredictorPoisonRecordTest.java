package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsTestData;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import io.expertcast.streams.testing.PoisonRecords;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 item 1 in the predictor: a ~1 MB poison record on moe.selections (500 KB key, 500 KB
 * value) is dead-lettered with its bytes cut (size and hash kept) and the next request is forecast.
 * No change to the predictor's processors: the letters are built by streams-common.
 */
class PredictorPoisonRecordTest {
    @TempDir
    Path stateDir;

    @Test
    void aMegabytePoisonRecordIsDeadLetteredAndForecastingGoesOn() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createPipelineTopics(1);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>(PoisonRecords.selections());
            var serializer = Topics.SELECTIONS.valueSerde().serializer();
            byte[] key = "r1".getBytes(StandardCharsets.UTF_8);
            records.add(new ProducerRecord<>(Topics.SELECTIONS.name(), key, serializer.serialize(Topics.SELECTIONS.name(),
                    StreamsTestData.selection("r1", 0, 0, 4, 0L, 0, 5))));
            records.add(new ProducerRecord<>(Topics.SELECTIONS.name(), key, serializer.serialize(Topics.SELECTIONS.name(),
                    StreamsTestData.selection("r1", 1, 4, 1, 1L, 0, 5))));
            PoisonRecords.send(kafka.bootstrapServers(), records);
            try (KafkaStreams streams = PredictorApp.start(kafka.bootstrapServers(), stateDir,
                    PredictorSettings.defaults(), Map.of())) {
                PoisonRecords.assertSelectionLetters(PoisonRecords.deadLetters(kafka.bootstrapServers(), "letters",
                        l -> l.size() >= 2, Duration.ofSeconds(60)));
                List<PrefetchCommand> commands = new ArrayList<>();
                try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG, "commands",
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                        new StringDeserializer(), Topics.PREFETCH.valueSerde().deserializer())) {
                    consumer.subscribe(List.of(Topics.PREFETCH.name()));
                    Poll.until(Duration.ofSeconds(60), () -> {
                        consumer.poll(Duration.ofMillis(200)).forEach(r -> commands.add(r.value()));
                        return !commands.isEmpty();
                    }, "a prefetch command for r1 after the poison records");
                }
                assertEquals("r1", commands.get(0).getRequestId());
                assertEquals(KafkaStreams.State.RUNNING, streams.state());
            }
        }
    }
}
