package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.PassEntry;
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
 * Issue 19 item 1: a ~1 MB poison record on moe.selections (500 KB key, 500 KB value) is
 * dead-lettered with its bytes cut (size and hash kept), and the allocator plans the next pass.
 */
class AllocatorPoisonRecordTest {
    @TempDir
    Path stateDir;

    @Test
    void aMegabytePoisonRecordIsDeadLetteredAndPlanningGoesOn() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            for (var topic : List.of(Topics.SELECTIONS, Topics.PASSES, Topics.ALLOCATIONS, Topics.ALLOCATOR_METRICS,
                    Topics.PLACEMENT, Topics.PLACEMENT_COMMANDS, Topics.DEAD_LETTER)) {
                kafka.createTopic(topic.name(), 1);
            }
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>(PoisonRecords.selections());
            records.add(new ProducerRecord<>(Topics.SELECTIONS.name(), "r1".getBytes(StandardCharsets.UTF_8),
                    Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(),
                            StreamsTestData.selection("r1", 1, 0, 1, 0L, 0, 5))));
            records.add(new ProducerRecord<>(Topics.PASSES.name(), StreamsTestData.MODEL.getBytes(StandardCharsets.UTF_8),
                    Topics.PASSES.valueSerde().serializer().serialize(Topics.PASSES.name(),
                            StreamsTestData.pass(0L, List.of(new PassEntry("r1", 1, 1))))));
            PoisonRecords.send(kafka.bootstrapServers(), records);
            try (KafkaStreams streams = AllocatorApp.start(kafka.bootstrapServers(), stateDir,
                    AllocatorSettings.defaults().withoutRebalancing(), Map.of())) {
                PoisonRecords.assertSelectionLetters(PoisonRecords.deadLetters(kafka.bootstrapServers(), "letters",
                        l -> l.size() >= 2, Duration.ofSeconds(60)));
                List<AllocationPlan> plans = new ArrayList<>();
                try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG, "plans",
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                        new StringDeserializer(), Topics.ALLOCATIONS.valueSerde().deserializer())) {
                    consumer.subscribe(List.of(Topics.ALLOCATIONS.name()));
                    Poll.until(Duration.ofSeconds(60), () -> {
                        consumer.poll(Duration.ofMillis(200)).forEach(r -> plans.add(r.value()));
                        return plans.size() >= 24;
                    }, "the valid pass's 24 plans after the poison records");
                }
                assertEquals(24, plans.size());
                assertEquals(KafkaStreams.State.RUNNING, streams.state());
            }
        }
    }
}
