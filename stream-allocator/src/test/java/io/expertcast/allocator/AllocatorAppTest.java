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
                    Topics.PLACEMENT, Topics.PLACEMENT_COMMANDS, Topics.DEAD_LETTER, Topics.EXPERT_LOAD)) {
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
                ForwardPass pass = new ForwardPass("llama4-maverick", 0L, List.of(new PassEntry("r1", 1, 1)), 1, 1, 0L, "");
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

    /**
     * A replica made by a command survives a restart: a second instance with an empty state
     * directory rebuilds the table from the compacted moe.placement topic and plans with it.
     */
    @Test
    void aRestartedAllocatorRebuildsTheTableFromThePlacementTopic(@TempDir Path secondStateDir) throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            for (var topic : List.of(Topics.SELECTIONS, Topics.PASSES, Topics.ALLOCATIONS, Topics.ALLOCATOR_METRICS,
                    Topics.PLACEMENT_COMMANDS, Topics.DEAD_LETTER, Topics.EXPERT_LOAD)) {
                kafka.createTopic(topic.name(), 1);
            }
            kafka.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(Topics.PLACEMENT.name(), 1, (short) 1)
                    .configs(Map.of("cleanup.policy", "compact"))));
            var bytes = new org.apache.kafka.common.serialization.ByteArraySerializer();
            try (var producer = new KafkaProducer<>(Map.<String, Object>of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()), new StringSerializer(), bytes)) {
                // Expert 0 of Llama-4's MoE layer 0 lives on die 0; copy it to die 12.
                var command = new io.expertcast.schemas.PlacementCommand("llama4-maverick", 0, 0,
                        io.expertcast.schemas.PlacementAction.REPLICATE, 0, 12, 0L, "test", 0L);
                producer.send(new ProducerRecord<>(Topics.PLACEMENT_COMMANDS.name(), "llama4-maverick/0/0",
                        Topics.PLACEMENT_COMMANDS.valueSerde().serializer().serialize(Topics.PLACEMENT_COMMANDS.name(),
                                command)));
            }
            try (KafkaStreams first = AllocatorApp.start(kafka.bootstrapServers(), stateDir, AllocatorSettings.defaults(),
                    Map.of()); var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                    ConsumerConfig.GROUP_ID_CONFIG, "placement-reader",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                    new StringDeserializer(), Topics.PLACEMENT.valueSerde().deserializer())) {
                consumer.subscribe(List.of(Topics.PLACEMENT.name()));
                List<io.expertcast.schemas.PlacementEntry> rows = new ArrayList<>();
                Poll.until(Duration.ofSeconds(60), () -> {
                    consumer.poll(Duration.ofMillis(200)).forEach(r -> rows.add(r.value()));
                    return !rows.isEmpty();
                }, "the replicated row on moe.placement");
                assertEquals(List.of(12), rows.get(0).getReplicaDies());
            }
            // 600 tokens all on expert 0 in every layer: max_split 3, and die 12 now holds layer 0's copy.
            int tokens = 600;
            SelectionEvent selection = SelectionEvent.newBuilder().setModel("llama4-maverick").setRequestId("r1")
                    .setStep(0).setPhase(Phase.PREFILL).setTokenOffset(0).setTokenCount(tokens).setPassId(0L)
                    .setBatchTokenOffset(0).setNumMoeLayers(24).setTopK(1)
                    .setExpertIds(ByteBuffer.wrap(ExpertIds.pack(new int[tokens * 24]))).setEventTimeMs(0L).build();
            try (var producer = new KafkaProducer<>(Map.<String, Object>of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()), new StringSerializer(), bytes)) {
                producer.send(new ProducerRecord<>(Topics.SELECTIONS.name(), "r1",
                        Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(), selection)));
                ForwardPass pass = new ForwardPass("llama4-maverick", 0L, List.of(new PassEntry("r1", 0, tokens)),
                        tokens, 0, 0L, "");
                producer.send(new ProducerRecord<>(Topics.PASSES.name(), "llama4-maverick",
                        Topics.PASSES.valueSerde().serializer().serialize(Topics.PASSES.name(), pass)));
            }
            List<AllocationPlan> plans = new ArrayList<>();
            try (KafkaStreams second = AllocatorApp.start(kafka.bootstrapServers(), secondStateDir,
                    AllocatorSettings.defaults(), Map.of()); var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                    ConsumerConfig.GROUP_ID_CONFIG, "plan-reader",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                    new StringDeserializer(), Topics.ALLOCATIONS.valueSerde().deserializer())) {
                consumer.subscribe(List.of(Topics.ALLOCATIONS.name()));
                Poll.until(Duration.ofSeconds(60), () -> {
                    consumer.poll(Duration.ofMillis(200)).forEach(r -> plans.add(r.value()));
                    return plans.size() >= 24;
                }, "24 committed allocation plans");
            }
            AllocationPlan layer0 = plans.stream().filter(p -> p.getLayer() == 0).findFirst().orElseThrow();
            AllocationPlan layer1 = plans.stream().filter(p -> p.getLayer() == 1).findFirst().orElseThrow();
            org.junit.jupiter.api.Assertions.assertTrue(layer0.getAssignments().stream().anyMatch(a -> a.getDie() == 12),
                    "layer 0 uses the replica on die 12: " + layer0.getAssignments());
            org.junit.jupiter.api.Assertions.assertTrue(layer1.getAssignments().stream().noneMatch(a -> a.getDie() == 12),
                    "layer 1 has no replica: " + layer1.getAssignments());
        }
    }
}
