package io.expertcast.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 21: every service runs through {@link StreamsService}. A tiny topology on a real broker: a
 * thread that lost its transaction to the cluster is replaced and the service stays healthy; a bug stops
 * it (health DOWN, exit 1); both counted on the service's metrics.
 */
class StreamsServiceTest {
    private static EmbeddedKafka kafka;

    @TempDir
    Path stateDir;

    @BeforeAll
    static void startBroker() throws Exception {
        kafka = EmbeddedKafka.start();
    }

    @AfterAll
    static void stopBroker() throws Exception {
        kafka.close();
    }

    /** A service counting what it reads from {@code topic}; the value {@code fail} throws what {@code failure} makes, once. */
    private StreamsService service(String topic, AtomicInteger seen, RuntimeException failure, ServiceMetrics metrics)
            throws Exception {
        kafka.createTopic(topic, 1);
        AtomicBoolean thrown = new AtomicBoolean();
        Properties props = StreamsSettings.base(topic + "-app", kafka.bootstrapServers(), stateDir, Map.of());
        return StreamsService.create("test", props, builder -> builder
                .stream(topic, Consumed.with(Serdes.String(), Serdes.String()))
                .foreach((k, v) -> {
                    if (v.equals("fail") && thrown.compareAndSet(false, true)) {
                        throw failure;
                    }
                    seen.incrementAndGet();
                }), metrics);
    }

    private static void send(String topic, List<String> values) {
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(
                Map.of("bootstrap.servers", kafka.bootstrapServers()), new StringSerializer(), new StringSerializer())) {
            for (String v : values) {
                producer.send(new ProducerRecord<>(topic, "k", v));
            }
        }
    }

    @Test
    void aThreadThatLostItsTransactionIsReplacedAndTheServiceStaysHealthy() throws Exception {
        AtomicInteger seen = new AtomicInteger();
        RuntimeException lost = new RetriableException("the coordinator moved (test)") { };
        try (ServiceMetrics metrics = ServiceMetrics.create("test");
             StreamsService service = service("service-replace", seen, lost, metrics)) {
            assertEquals(new StreamsService.Health(false, true, "CREATED"), service.health());
            service.start();
            Poll.until(Duration.ofSeconds(60), () -> service.health().ready(), "RUNNING");
            send("service-replace", List.of("a", "fail", "b"));
            Poll.until(Duration.ofSeconds(60), () -> seen.get() >= 2, "both good records after the failure");
            Poll.until(Duration.ofSeconds(60), () -> service.health().ready(), "RUNNING again");
            assertEquals(Map.of(StreamThreadExceptionResponse.REPLACE_THREAD, 1L), service.threadFailures());
            String scrape = metrics.scrape(null).body();
            assertTrue(scrape.contains("expertcast_stream_thread_failures_total{decision=\"REPLACE_THREAD\",service=\"test\"} 1.0"),
                    scrape.lines().filter(l -> l.contains("thread_failures")).toList().toString());
            assertTrue(scrape.contains("kafka_stream_"), "the application's Kafka metrics are bound");
        }
    }

    @Test
    void aBugStopsTheServiceWithExitOneAndHealthDown() throws Exception {
        AtomicInteger seen = new AtomicInteger();
        ExecutorService runner = Executors.newSingleThreadExecutor();
        try (StreamsService service = service("service-bug", seen, new IllegalStateException("a bug (test)"), null)) {
            service.start();
            Future<Integer> exit = runner.submit((java.util.concurrent.Callable<Integer>) service::runUntilStopped);
            Poll.until(Duration.ofSeconds(60), () -> service.health().ready(), "RUNNING");
            send("service-bug", List.of("a", "fail", "b"));
            assertEquals(1, exit.get(60, TimeUnit.SECONDS));
            StreamsService.Health health = service.health();
            assertFalse(health.ready());
            assertFalse(health.live());
            assertTrue(health.state().equals(KafkaStreams.State.ERROR.name())
                    || health.state().equals(KafkaStreams.State.NOT_RUNNING.name()), health.state());
            assertEquals(Map.of(StreamThreadExceptionResponse.SHUTDOWN_CLIENT, 1L), service.threadFailures());
        } finally {
            runner.shutdownNow();
        }
    }

    @Test
    void healthFollowsTheState() {
        assertEquals(new StreamsService.Health(false, true, "NOT_BUILT"), StreamsService.Health.of(null));
    }
}
