package io.expertcast.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 19 item 7: a line when the brokers are lost (after a grace period) and one when they are back. */
class BrokerWatchTest {
    @TempDir
    Path stateDir;

    @Test
    void oneLineWhenLostAndOneWhenBackNotOnABlip() {
        AtomicLong open = new AtomicLong(3);
        List<String> lines = new ArrayList<>();
        BrokerWatch watch = new BrokerWatch("allocator", "127.0.0.1:9092", open::get, 5_000, lines::add);
        watch.sample(0);
        open.set(0);
        watch.sample(1_000);
        open.set(2);
        watch.sample(2_000); // a blip (a rebalance) is not an outage
        assertTrue(lines.isEmpty());
        open.set(0);
        for (long t = 3_000; t <= 20_000; t += 1_000) {
            watch.sample(t);
        }
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("allocator: the Kafka brokers (127.0.0.1:9092) are unreachable"), lines.get(0));
        assertTrue(watch.lost());
        open.set(1);
        watch.sample(33_000);
        watch.sample(34_000);
        assertEquals(2, lines.size());
        assertEquals("allocator: the Kafka brokers (127.0.0.1:9092) are reachable again after 30 s; processing resumes",
                lines.get(1));
        assertFalse(watch.lost());
    }

    @Test
    void aRunningApplicationHasOpenConnectionsAndLosesThemWithTheBroker() throws Exception {
        List<String> lines = new ArrayList<>();
        KafkaStreams streams;
        BrokerWatch watch;
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopic("watch-input", 1);
            StreamsBuilder builder = new StreamsBuilder();
            builder.stream("watch-input", Consumed.with(Serdes.String(), Serdes.String())).foreach((k, v) -> { });
            var props = StreamsSettings.base("watch-test", kafka.bootstrapServers(), stateDir, Map.of());
            streams = new KafkaStreams(builder.build(props), props);
            streams.start();
            watch = new BrokerWatch("test", kafka.bootstrapServers(), () -> BrokerWatch.openConnections(streams.metrics()),
                    1_000, lines::add);
            Poll.until(Duration.ofSeconds(60), () -> streams.state() == KafkaStreams.State.RUNNING, "running");
            Poll.until(Duration.ofSeconds(30), () -> BrokerWatch.openConnections(streams.metrics()) > 0,
                    "open broker connections");
            watch.sample(System.currentTimeMillis());
            assertTrue(lines.isEmpty());
        }
        try {
            Poll.until(Duration.ofSeconds(60), () -> {
                watch.sample(System.currentTimeMillis());
                return watch.lost();
            }, "the lost broker noticed");
            assertEquals(1, lines.size());
            assertTrue(lines.get(0).contains("unreachable"), lines.get(0));
        } finally {
            // Without a broker an exactly-once close cannot commit: do not wait for it.
            streams.close(Duration.ofSeconds(1));
        }
    }
}
