package io.expertcast.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
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
 * Issue 19 item 1 in the emulator: a ~1 MB poison record on moe.selections (500 KB key, 500 KB
 * value) is dead-lettered with its bytes cut (size and hash kept) and the next pass is emulated.
 */
class EmulatorPoisonRecordTest {
    @TempDir
    Path stateDir;

    @Test
    void aMegabytePoisonRecordIsDeadLetteredAndEmulationGoesOn() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createPipelineTopics(1);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>(PoisonRecords.selections());
            records.add(new ProducerRecord<>(Topics.SELECTIONS.name(), "r1".getBytes(StandardCharsets.UTF_8),
                    Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(),
                            StreamsTestData.selection("r1", 1, 0, 1, 0L, 0, 5))));
            records.add(new ProducerRecord<>(Topics.PASSES.name(), StreamsTestData.MODEL.getBytes(StandardCharsets.UTF_8),
                    Topics.PASSES.valueSerde().serializer().serialize(Topics.PASSES.name(),
                            StreamsTestData.pass(0L, List.of(new PassEntry("r1", 1, 1))))));
            PoisonRecords.send(kafka.bootstrapServers(), records);
            EmulatorSettings settings = new EmulatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"),
                    List.of("base", "ep"), "expertcast-emulator");
            try (KafkaStreams streams = EmulatorApp.start(kafka.bootstrapServers(), stateDir, settings, Map.of())) {
                PoisonRecords.assertSelectionLetters(PoisonRecords.deadLetters(kafka.bootstrapServers(), "letters",
                        l -> l.size() >= 2, Duration.ofSeconds(60)));
                List<WaferMetrics> metrics = new ArrayList<>();
                try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG, "metrics",
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                        new StringDeserializer(), Topics.WAFER_METRICS.valueSerde().deserializer())) {
                    consumer.subscribe(List.of(Topics.WAFER_METRICS.name()));
                    Poll.until(Duration.ofSeconds(60), () -> {
                        consumer.poll(Duration.ofMillis(200)).forEach(r -> metrics.add(r.value()));
                        return metrics.size() >= 2;
                    }, "the valid pass emulated under base and ep after the poison records");
                }
                assertEquals(1L, metrics.get(0).getPasses());
                assertEquals(KafkaStreams.State.RUNNING, streams.state());
            }
        }
    }
}
