package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.CoActivation;
import io.expertcast.core.placement.DecayedPairCounts;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PairCounts;
import io.expertcast.schemas.PairObservation;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pair counts survive a restart, exactly once, on a real broker (exactly_once_v2, two
 * partitions): a first instance folds 64 passes into a snapshot and 5 more into the pending log and
 * stops; a second one with an empty state directory rebuilds both from their changelogs, and its
 * next snapshot (after 59 more passes) holds, bit for bit, the counts of all 128 passes.
 */
class AllocatorPairCountsRestartTest {
    private static final ModelShape DEEPSEEK = ModelCatalog.DEEPSEEK_V3;
    private static final int LAYERS = DEEPSEEK.numMoeLayers();
    private static final int K = DEEPSEEK.topK();
    private static final int TOKENS = 40;
    /**
     * No decay here: with two partitions passes complete on two tasks and reach the model's task in
     * an order the test cannot know, and decayed counts depend on the order. Undecayed float32 sums of
     * integers this small are exact, so a pass lost or counted twice shows. ProfileRebalancerPairsTest
     * checks the decay and the rebuild bit for bit on one task.
     */
    private static final double DECAY = 1.0;
    private static final String APP = "pairs-restart";

    @TempDir
    Path firstStateDir;
    @TempDir
    Path secondStateDir;

    @Test
    void aRestartedAllocatorContinuesFromTheChangeloggedPairCounts() throws Exception {
        AllocatorSettings settings = new AllocatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"),
                APP, new ProfileRebalancing("pair-separate", 600_000, 0, DECAY));
        DecayedPairCounts expected = new DecayedPairCounts(LAYERS, DEEPSEEK.numExperts(), DECAY);
        int beforeStop = PairCountKeeper.SNAPSHOT_EVERY_PASSES + 5;
        int all = 2 * PairCountKeeper.SNAPSHOT_EVERY_PASSES;
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createPipelineTopics(2);
            send(kafka, 0, beforeStop, expected);
            try (KafkaStreams first = AllocatorApp.start(kafka.bootstrapServers(), firstStateDir, settings, Map.of())) {
                // Every observation of the first 69 passes committed to the pending log.
                var pendingSerde = SerdeFactory.defaultFactory().serde(PairObservation.class);
                long[] puts = {0};
                try (var consumer = consumer(kafka, APP + "-" + AllocatorTopology.PAIR_PENDING_STORE + "-changelog",
                        pendingSerde.deserializer())) {
                    Poll.until(Duration.ofSeconds(120), () -> {
                        consumer.poll(Duration.ofMillis(200)).forEach(r -> puts[0] += r.value() == null ? 0 : 1);
                        return puts[0] >= beforeStop;
                    }, "the first instance's pair observations in the pending log");
                }
                assertEquals(beforeStop, puts[0]);
            }
            send(kafka, beforeStop, all, expected);
            Map<Integer, PairCounts> snapshot = new HashMap<>();
            try (KafkaStreams second = AllocatorApp.start(kafka.bootstrapServers(), secondStateDir, settings, Map.of());
                 var consumer = consumer(kafka, APP + "-" + AllocatorTopology.PAIR_COUNTS_STORE + "-changelog",
                         SerdeFactory.defaultFactory().serde(PairCounts.class).deserializer())) {
                Poll.until(Duration.ofSeconds(180), () -> {
                    consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                        if (r.value() != null && r.value().getObservations() == all) {
                            snapshot.put(r.value().getMoeLayer(), r.value());
                        }
                    });
                    return snapshot.size() == LAYERS;
                }, "the second instance's snapshot of all 128 passes");
            }
            for (int layer = 0; layer < LAYERS; layer++) {
                assertEquals(expected.pack(layer), snapshot.get(layer).getCounts().order(java.nio.ByteOrder.LITTLE_ENDIAN),
                        "layer " + layer + ": the counts of 128 passes, none lost or counted twice");
            }
        }
    }

    private static <V> KafkaConsumer<String, V> consumer(EmbeddedKafka kafka, String topic,
                                                         org.apache.kafka.common.serialization.Deserializer<V> values) {
        KafkaConsumer<String, V> consumer = new KafkaConsumer<>(Map.<String, Object>of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "reader-" + topic,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                // Kafka Streams creates the changelog with the task count; a reader must not create it first.
                ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false), new StringDeserializer(), values);
        consumer.subscribe(List.of(topic));
        return consumer;
    }

    /** Passes [from, to): each a request of {@code TOKENS} tokens with its own random selections. */
    private static void send(EmbeddedKafka kafka, int from, int to, DecayedPairCounts expected) throws Exception {
        CoActivation counter = new CoActivation(DEEPSEEK.numExperts());
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()), new StringSerializer(),
                new ByteArraySerializer())) {
            for (int id = from; id < to; id++) {
                int[] ids = ids(new Random(id));
                ProfileRebalancerPairsTest.observePass(expected, counter, ids, LAYERS, TOKENS, K);
                String request = "r" + id;
                SelectionEvent event = SelectionEvent.newBuilder().setModel(DEEPSEEK.id()).setRequestId(request)
                        .setStep(0).setPhase(Phase.PREFILL).setTokenOffset(0).setTokenCount(TOKENS).setPassId(id)
                        .setBatchTokenOffset(0).setNumMoeLayers(LAYERS).setTopK(K)
                        .setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids))).setEventTimeMs(System.currentTimeMillis())
                        .build();
                // One at a time: a fresh broker may answer the first sends with "not leader", and
                // pipelined retries of an idempotent producer can then fail out of sequence.
                producer.send(new ProducerRecord<>(Topics.SELECTIONS.name(), request,
                        Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(), event))).get();
                ForwardPass pass = new ForwardPass(DEEPSEEK.id(), (long) id, List.of(new PassEntry(request, 0, TOKENS)),
                        TOKENS, 0, System.currentTimeMillis(), "");
                producer.send(new ProducerRecord<>(Topics.PASSES.name(), DEEPSEEK.id(),
                        Topics.PASSES.valueSerde().serializer().serialize(Topics.PASSES.name(), pass))).get();
            }
        }
    }

    /** 8 distinct experts per token and layer, clustered so that some pairs recur. */
    private static int[] ids(Random random) {
        int[] ids = new int[TOKENS * LAYERS * K];
        for (int t = 0; t < TOKENS; t++) {
            for (int layer = 0; layer < LAYERS; layer++) {
                int first = random.nextInt(32);
                for (int s = 0; s < K; s++) {
                    ids[ExpertIds.index(t, layer, s, LAYERS, K)] = (first + 29 * s) % DEEPSEEK.numExperts();
                }
            }
        }
        return ids;
    }
}
