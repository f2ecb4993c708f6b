package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.core.model.ExpertIds;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The started application on a real in-JVM KRaft broker, exactly_once_v2: one pass in, 24 plans out. */
class AllocatorAppTest {
    @TempDir
    Path stateDir;

    @Test
    void plansAPassOnARealBroker() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            for (var topic : List.of(Topics.SELECTIONS, Topics.PASSES, Topics.ALLOCATIONS, Topics.ALLOCATOR_METRICS,
                    Topics.PLACEMENT, Topics.DEAD_LETTER)) {
                kafka.createTopic(topic.name(), 1);
            }
            int[] ids = new int[24];
            for (int layer = 0; layer < 24; layer++) {
                ids[layer] = layer * 5;
            }
            SelectionEvent selection = SelectionEvent.newBuilder().setModel("llama4-maverick").setRequestId("r1")
                    .setStep(1).setPhase(Phase.DECODE).setTokenOffset(0).setTokenCount(1).setPassId(0L)
                    .setBatchTokenOffset(0).setNumMoeLayers(24).setTopK(1)
                    .setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids))).setEventTimeMs(0L).build();
            try (var producer = new KafkaProducer<>(Map.<String, Object>of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()), new StringSerializer(),
                    new org.apache.kafka.common.serialization.ByteArraySerializer())) {
                producer.send(new ProducerRecord<>(Topics.SELECTIONS.name(), "r1",
                        Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(), selection)));
                ForwardPass pass = new ForwardPass("llama4-maverick", 0L, List.of(new PassEntry("r1", 1, 1)), 1, 1, 0L);
                producer.send(new ProducerRecord<>(Topics.PASSES.name(), "llama4-maverick",
                        Topics.PASSES.valueSerde().serializer().serialize(Topics.PASSES.name(), pass)));
            }
            KafkaStreams streams = AllocatorApp.start(kafka.bootstrapServers(), stateDir, AllocatorSettings.defaults(),
                    Map.of());
            List<AllocationPlan> plans = new ArrayList<>();
            try (streams; var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                    ConsumerConfig.GROUP_ID_CONFIG, "allocator-app-test",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                    new StringDeserializer(), Topics.ALLOCATIONS.valueSerde().deserializer())) {
                consumer.subscribe(List.of(Topics.ALLOCATIONS.name()));
                Poll.until(Duration.ofSeconds(60), () -> {
                    consumer.poll(Duration.ofMillis(200)).forEach(r -> plans.add(r.value()));
                    return plans.size() >= 24;
                }, "24 committed allocation plans");
            }
            assertEquals(24, plans.size());
            for (int layer = 0; layer < 24; layer++) {
                AllocationPlan plan = plans.get(layer);
                assertEquals(layer, plan.getLayer());
                assertEquals(1, plan.getTotalTokens());
                assertEquals(layer * 5, plan.getAssignments().get(0).getExpert());
            }
        }
    }
}
