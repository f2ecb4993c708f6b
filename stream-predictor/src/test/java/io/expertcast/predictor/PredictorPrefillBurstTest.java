package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.LayerSelections;
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
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Long prefill chunks arriving together (3 requests of 12,000 tokens, 576 KB each; one heatmap shard, so each
 * lesson record carries every layer) are counted in full and the predictor runs on. Before, the events of one
 * 100 ms hand-on went out as one lessons record per shard, here 1.2-1.7 MB: more than a Kafka record may have,
 * so the transaction failed and the predictor retried the same events for ever (RecordTooLargeException).
 * Now a record holds at most {@link SelectionBatches#MAX_RECORD_TOKENS} tokens.
 */
class PredictorPrefillBurstTest {
    private static final int REQUESTS = 3;
    private static final int TOKENS = 12_000;

    @TempDir
    Path stateDir;

    @Test
    void aBurstOfLongPrefillsIsCountedInFullAndThePredictorRunsOn() throws Exception {
        ModelShape model = ModelCatalog.LLAMA4_MAVERICK; // StreamsTestData.MODEL
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createPipelineTopics(1);
            var serializer = Topics.SELECTIONS.valueSerde().serializer();
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            for (int r = 0; r < REQUESTS; r++) {
                byte[] value = serializer.serialize(Topics.SELECTIONS.name(),
                        StreamsTestData.selection("long-" + r, 0, 0, TOKENS, r, 0, r % model.numExperts()));
                records.add(new ProducerRecord<>(Topics.SELECTIONS.name(), ("long-" + r).getBytes(StandardCharsets.UTF_8),
                        value));
            }
            PoisonRecords.send(kafka.bootstrapServers(), records); // before the start: one commit takes them all
            try (KafkaStreams streams = PredictorApp.start(kafka.bootstrapServers(), stateDir,
                    PredictorSettings.defaults().withHeatmapShards(1), Map.of(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 5000))) {
                long[] tokens = {0};
                int[] lessons = {0};
                try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG, "lessons",
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                        new StringDeserializer(), Topics.HEATMAP_LESSONS.valueSerde().deserializer())) {
                    consumer.subscribe(List.of(Topics.HEATMAP_LESSONS.name()));
                    Poll.until(Duration.ofSeconds(90), () -> {
                        consumer.poll(Duration.ofMillis(200)).forEach(rec -> {
                            lessons[0]++;
                            tokens[0] += firstLayerTokens(rec.value(), model);
                        });
                        return tokens[0] >= (long) REQUESTS * TOKENS;
                    }, "every prefill token's lesson, committed");
                }
                assertEquals((long) REQUESTS * TOKENS, tokens[0]);
                assertTrue(lessons[0] >= REQUESTS * TOKENS / SelectionBatches.MAX_RECORD_TOKENS,
                        "bounded records: " + lessons[0]);
                assertEquals(KafkaStreams.State.RUNNING, streams.state());
            }
        }
    }

    /** Tokens of MoE layer 0 in a lessons record (the packed form; a finished request's counts carry none). */
    private static long firstLayerTokens(LayerSelections lesson, ModelShape model) {
        if (lesson.getPacked() == null || !lesson.getPacked().hasRemaining()) {
            return 0;
        }
        long[] n = {0};
        PackedLayerTokens.forEach(lesson.getPacked(), model.numExperts(), model.topK(), (layer, previous, ids, next) -> {
            if (layer == 0) {
                n[0] += ids.length / model.topK();
            }
        });
        return n[0];
    }
}
