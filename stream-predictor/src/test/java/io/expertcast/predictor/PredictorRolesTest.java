package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The predictor's two parts as two applications ({@link PredictorRole}): an instance running both parts handles
 * the first half of a trace, then is replaced by a requests-role instance (the same application id, state and
 * offsets) and a heatmaps-role aggregator of its own (a new application, which reads moe.heatmap-lessons from its
 * beginning). The heatmaps and accuracy at the end equal those of one run without any change: the aggregator
 * counts none of the lessons its restored snapshots already hold a second time, and loses none they do not hold.
 */
@Tag("slow")
class PredictorRolesTest {
    @TempDir
    Path work;

    @Test
    void theAggregatorTakesOverFromAWholePredictorAndCountsEveryLessonExactlyOnce() throws Exception {
        List<SelectionEvent> events = PredictorCrashExactTest.trace();
        ExactOutputs expected = ExactOutputs.oneRun(events);
        assertFalse(expected.heatmaps.isEmpty());
        PredictorSettings settings = CrashablePredictor.settings();
        Map<String, Object> overrides = Map.of(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        try (EmbeddedKafka cluster = EmbeddedKafka.start()) {
            String bootstrap = cluster.bootstrapServers();
            cluster.createPipelineTopics(2);
            List<SelectionEvent> first = events.subList(0, events.size() / 2);
            try (KafkaStreams whole = PredictorApp.start(bootstrap, work.resolve("requests"), settings, overrides)) {
                PredictorCrashExactTest.produce(bootstrap, first);
                awaitCommitted(bootstrap, settings.applicationId(), Topics.SELECTIONS.name());
                awaitCommitted(bootstrap, settings.applicationId(), Topics.HEATMAP_LESSONS.name());
            }
            Map<TopicPartition, Long> lessonsOfWhole = committed(bootstrap, settings.applicationId(),
                    Topics.HEATMAP_LESSONS.name());
            assertFalse(lessonsOfWhole.isEmpty());
            PredictorSettings requests = settings.withRole(PredictorRole.REQUESTS);
            PredictorSettings heatmaps = settings.withRole(PredictorRole.HEATMAPS);
            assertEquals(settings.applicationId(), requests.applicationId());
            assertEquals(settings.applicationId() + "-heatmaps", heatmaps.applicationId());
            try (KafkaStreams requestSide = PredictorApp.start(bootstrap, work.resolve("requests"), requests, overrides);
                 PredictorApp.Queried aggregator = PredictorApp.startWithQueries(bootstrap, work.resolve("heatmaps"),
                         heatmaps, overrides, 0)) {
                PredictorCrashExactTest.produce(bootstrap, events.subList(first.size(), events.size()));
                ExactOutputs live = ExactOutputs.read(bootstrap, "roles-check", expected);
                assertEquals(List.of(), expected.differences(live, "in one run", "handed over"));
                // Each application ran only its part: the request side left the lessons alone, the aggregator
                // read nothing else.
                assertEquals(lessonsOfWhole, committed(bootstrap, requests.applicationId(), Topics.HEATMAP_LESSONS.name()));
                assertEquals(Set.of(Topics.HEATMAP_LESSONS.name()), committed(bootstrap, heatmaps.applicationId(), null)
                        .keySet().stream().map(TopicPartition::topic).collect(Collectors.toSet()));
                // The aggregator answers for the tables it publishes, and says where requests are answered.
                String at = "http://" + aggregator.http().advertisedAddress();
                HttpResponse<String> table = get(at + "/tables/crash-toy/0?level=token");
                assertEquals(200, table.statusCode(), table.body());
                HttpResponse<String> request = get(at + "/requests/crash-0");
                assertEquals(404, request.statusCode(), request.body());
                assertTrue(request.body().contains("heatmaps role"), request.body());
            }
        }
    }

    private static HttpResponse<String> get(String url) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Until {@code group} has committed every partition of {@code topic} to its end (2 minutes at most). */
    private static void awaitCommitted(String bootstrap, String group, String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (System.nanoTime() < deadline) {
                Set<TopicPartition> partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic)
                        .partitions().stream().map(p -> new TopicPartition(topic, p.partition()))
                        .collect(Collectors.toSet());
                Map<TopicPartition, Long> end = admin.listOffsets(partitions.stream().collect(Collectors.toMap(
                        p -> p, p -> OffsetSpec.latest()))).all().get().entrySet().stream()
                        .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                        .partitionsToOffsetAndMetadata().get();
                if (end.entrySet().stream().allMatch(e -> e.getValue() == 0 || committed.get(e.getKey()) != null
                        && committed.get(e.getKey()).offset() >= e.getValue())) {
                    return;
                }
                Thread.sleep(200);
            }
            throw new AssertionError(group + " did not commit " + topic + " to its end within 2 minutes");
        }
    }

    /** The offsets {@code group} committed, of {@code topic} (null: every topic). */
    private static Map<TopicPartition, Long> committed(String bootstrap, String group, String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().entrySet().stream()
                    .filter(e -> topic == null || e.getKey().topic().equals(topic))
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
        }
    }
}
