package io.expertcast.streams.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.schemas.Topic;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.http.OpsServer;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** /metrics and /health of a real Streams application on a real broker, and the topic reader's bad records. */
class ServiceMetricsTest {
    private static EmbeddedKafka kafka;
    private final HttpClient http = HttpClient.newHttpClient();

    @TempDir
    Path stateDir;

    @BeforeAll
    static void startKafka() throws Exception {
        kafka = EmbeddedKafka.start();
        kafka.createTopic("in", 1);
        kafka.createTopic("out", 1);
        kafka.createTopic("followed", 2);
    }

    @AfterAll
    static void stopKafka() throws Exception {
        kafka.close();
    }

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void healthIsReadyOnlyWhileRunningAndMetricsHoldJvmStreamsAndOwnMeters() throws Exception {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream("in", org.apache.kafka.streams.kstream.Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .to("out", org.apache.kafka.streams.kstream.Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        var props = StreamsSettings.base("metrics-test", kafka.bootstrapServers(), stateDir, Map.of());
        AtomicReference<KafkaStreams> built = new AtomicReference<>();
        try (ServiceMetrics metrics = ServiceMetrics.create("tester");
             OpsServer ops = OpsServer.start(0, metrics, built::get)) {
            HttpResponse<String> notBuilt = get(ops.url() + "health");
            assertEquals(503, notBuilt.statusCode());
            assertTrue(notBuilt.body().contains("\"NOT_BUILT\""), notBuilt.body());
            assertEquals(200, get(ops.url() + "health/live").statusCode(), "alive while being built");

            KafkaStreams streams = new KafkaStreams(builder.build(props), props);
            built.set(streams);
            metrics.bind(streams);
            assertEquals(503, get(ops.url() + "health").statusCode(), "CREATED is not ready");
            streams.start();
            Poll.until(Duration.ofSeconds(60), () -> streams.state() == KafkaStreams.State.RUNNING, "RUNNING");
            HttpResponse<String> ready = get(ops.url() + "health");
            assertEquals(200, ready.statusCode());
            assertEquals("{\"status\": \"UP\", \"streams\": \"RUNNING\", \"service\": \"tester\"}\n", ready.body());

            // Task metrics appear once the task exists and the binder has looked again (every 10 s).
            Poll.until(Duration.ofSeconds(60), () -> metrics.scrape(null).body().contains("kafka_stream_task_process_total{"),
                    "task metrics bound after the assignment");
            metrics.beforeScrape("broken", () -> {
                throw new IllegalStateException("store moved in a rebalance");
            });
            HttpResponse<String> scrape = get(ops.url() + "metrics");
            assertEquals(200, scrape.statusCode(), "a failing refresh still scrapes");
            String body = scrape.body();
            assertTrue(body.contains("jvm_memory_used_bytes{"), "JVM metrics");
            assertTrue(body.contains("process_cpu_usage{"), "process metrics");
            assertTrue(body.contains("kafka_stream_thread_commit_latency_avg{"), "Kafka Streams metrics");
            assertTrue(body.contains("kafka_consumer_fetch_manager_records_lag_max{"), "its consumer's metrics");
            assertTrue(!body.contains("kafka_stream_processor_node_") && !body.contains("kafka_consumer_node_"),
                    "per-node families are left out of a scrape");
            assertTrue(body.contains("expertcast_metrics_refresh_errors_total{service=\"tester\",source=\"broken\"} 1.0"), body);
            HttpResponse<String> openMetrics = http.send(HttpRequest.newBuilder(URI.create(ops.url() + "metrics"))
                    .header("Accept", "application/openmetrics-text; version=1.0.0").build(), HttpResponse.BodyHandlers.ofString());
            assertTrue(openMetrics.headers().firstValue("Content-Type").orElse("").startsWith("application/openmetrics-text"));
            assertTrue(openMetrics.body().endsWith("# EOF\n"));

            streams.close(Duration.ofSeconds(30));
            assertEquals(503, get(ops.url() + "health").statusCode());
            assertEquals(503, get(ops.url() + "health/live").statusCode(), "a stopped application is not alive");
            assertEquals(404, get(ops.url() + "other").statusCode());
        }
    }

    @Test
    void aFollowedRecordThatDoesNotDecodeIsCountedAndReportedAndReadingGoesOn() throws Exception {
        Topic<String, WaferMetrics> topic = new Topic<>("followed", Serdes.String(), Topics.WAFER_METRICS.valueSerde(), false);
        WaferMetrics good = WaferMetrics.newBuilder().setModel("m").setMesh("dojo-5x5").setPolicy("base").setPasses(1)
                .setTokens(1).setMoeTimeNs(1).setThroughputTokensPerS(1).setHops(0).setLocalReads(0).setRemoteReads(0)
                .setCopyWrites(0).setLastPassId(0).setMeanDieNs(0).setDieBalance(1).setReads(0).setCopyReads(0).setLlcHits(0)
                .setLlcHitRate(0).setLinkBytes(0).setMaxPassLinkBytes(0).setEventTimeMs(0).setPrefetchUsed(0)
                .setPrefetchLate(0).setPrefetchUnknown(0).setPrefetchExpired(0).build();
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", kafka.bootstrapServers()),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>("followed", 0, "bad".getBytes(), new byte[]{1, 2, 3})).get();
            producer.send(new ProducerRecord<>("followed", 0, "m/base".getBytes(),
                    Topics.WAFER_METRICS.valueSerde().serializer().serialize("followed", good))).get();
        }
        List<String> read = new CopyOnWriteArrayList<>();
        List<String> bad = new CopyOnWriteArrayList<>();
        try (ServiceMetrics metrics = ServiceMetrics.create("reader");
             TopicFollower follower = new TopicFollower(kafka.bootstrapServers(), "reader-test", metrics)
                     .follow(topic, 100, new TopicFollower.Handler<>() {
                         @Override
                         public void record(String key, WaferMetrics value, long timestampMs) {
                             read.add(key + "=" + value.getPolicy());
                         }

                         @Override
                         public void undecodable(String t, int partition, long offset, RuntimeException error) {
                             bad.add(t + "-" + partition + "@" + offset);
                         }
                     }).start()) {
            Poll.until(Duration.ofSeconds(60), () -> read.size() == 1, "the good record after the bad one");
            assertEquals(List.of("m/base=base"), read);
            assertEquals(List.of("followed-0@0"), bad);
            assertTrue(metrics.scrape(null).body().contains(
                    "expertcast_topic_undecodable_records_total{service=\"reader\",topic=\"followed\"} 1.0"));
        }
    }
}
