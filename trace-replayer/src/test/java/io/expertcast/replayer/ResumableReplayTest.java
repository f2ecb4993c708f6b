package io.expertcast.replayer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.source.SyntheticSource;
import io.expertcast.core.trace.source.TraceSource;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;

/** A named replay that crashes mid-batch and is started again sends every step exactly once. */
class ResumableReplayTest {
    private static final int REQUESTS = 6;

    /** The synthetic source, failing when the scheduler asks for request {@code failAt} (a crash). */
    private record Crashing(TraceSource real, int failAt) implements TraceSource {
        @Override
        public Iterator<RequestTrace> requests(boolean skipBad, List<String> skippedOut) {
            Iterator<RequestTrace> it = real.requests(skipBad, skippedOut);
            return new Iterator<>() {
                private int given;

                @Override
                public boolean hasNext() {
                    return it.hasNext();
                }

                @Override
                public RequestTrace next() {
                    if (given++ == failAt) {
                        throw new IllegalStateException("simulated crash");
                    }
                    return it.next();
                }
            };
        }

        @Override
        public int size() {
            return real.size();
        }

        @Override
        public String describe() {
            return real.describe();
        }
    }

    @Test
    void aResumedReplayNeitherLosesNorRepeatsAStep() throws Exception {
        ModelShape llama = ModelCatalog.standard().byId("llama4-maverick").orElseThrow();
        TraceSource source = new SyntheticSource(llama, REQUESTS, 21);
        Set<String> expected = new HashSet<>();
        source.requests(false, new ArrayList<>()).forEachRemaining(r -> {
            for (int s = 0; s < r.numSteps(); s++) {
                expected.add(r.requestId() + "#" + s);
            }
        });
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopic(Topics.SELECTIONS.name(), 2);
            kafka.createTopic(Topics.PASSES.name(), 1);
            kafka.createTopic(Topics.REPLAY_CHECKPOINTS.name(), 1);
            ReplayOptions options = new ReplayOptions(kafka.bootstrapServers(), null, 2, 0, 0, false, 256, "run-1", 7);
            // Requests 0-3 are taken, 2 and 3 are mid-decode when the source fails on request 4.
            IllegalStateException crash = assertThrows(IllegalStateException.class,
                    () -> TraceReplayer.replay(options, List.of(new Crashing(source, 4)), null));
            assertEquals("simulated crash", crash.getMessage());
            ReplaySummary resumed = TraceReplayer.replay(options, List.of(source), null);
            assertTrue(resumed.requests() >= 2 && resumed.requests() <= REQUESTS, "requests finished by the resumed run");
            assertTrue(resumed.resume().startsWith("resumed replay run-1: "), resumed.resume());
            assertTrue(resumed.format().startsWith("resumed replay run-1: "), resumed.format());

            List<String> seen = new ArrayList<>();
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
            p.put(ConsumerConfig.GROUP_ID_CONFIG, "check");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            try (KafkaConsumer<String, SelectionEvent> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
                    Topics.SELECTIONS.valueSerde().deserializer())) {
                consumer.subscribe(List.of(Topics.SELECTIONS.name()));
                long deadline = System.currentTimeMillis() + 60_000;
                while (seen.size() < expected.size() && System.currentTimeMillis() < deadline) {
                    consumer.poll(Duration.ofMillis(500)).forEach(r -> {
                        seen.add(r.value().getRequestId() + "#" + r.value().getStep());
                        assertEquals("run-1", r.value().getSource(), "the replay id is the default source id");
                    });
                }
                consumer.poll(Duration.ofSeconds(2)).forEach(r -> seen.add(r.value().getRequestId() + "#"
                        + r.value().getStep()));
            }
            assertEquals(expected.size(), seen.size(), "no step twice, none lost");
            assertEquals(expected, new HashSet<>(seen));
            // Running it again finds the replay complete and sends nothing.
            ReplaySummary again = TraceReplayer.replay(options, List.of(source), null);
            assertEquals(0, again.events());
            assertEquals(0, again.requests());
            // A resume under another source id would split the replay into two sources: refused.
            IllegalArgumentException other = assertThrows(IllegalArgumentException.class, () -> TraceReplayer.replay(
                    new ReplayOptions(kafka.bootstrapServers(), null, 2, 0, 0, false, 256, "run-1", 7, "engine-2"),
                    List.of(source), null));
            assertTrue(other.getMessage().contains("--source run-1"), other.getMessage());
            assertTrue(again.format().contains("replay run-1 had completed before (" + REQUESTS
                    + " requests): nothing left to send"), again.format());
        }
    }

    @Test
    void aStoppedReplaySaysWhatItSentAndItsResumeSendsTheRestOnce() throws Exception {
        ModelShape llama = ModelCatalog.standard().byId("llama4-maverick").orElseThrow();
        TraceSource source = new SyntheticSource(llama, REQUESTS, 22);
        Set<String> expected = new HashSet<>();
        source.requests(false, new ArrayList<>()).forEachRemaining(r -> {
            for (int s = 0; s < r.numSteps(); s++) {
                expected.add(r.requestId() + "#" + s);
            }
        });
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopic(Topics.SELECTIONS.name(), 2);
            kafka.createTopic(Topics.PASSES.name(), 1);
            kafka.createTopic(Topics.REPLAY_CHECKPOINTS.name(), 1);
            ReplayOptions options = new ReplayOptions(kafka.bootstrapServers(), null, 2, 0, 0, false, 256, "run-2", 3);
            // The stop (what the SIGTERM hook sets) arrives before the 6th pass.
            java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
            ReplaySummary stopped = TraceReplayer.replay(options, List.of(source), null, () -> asked.incrementAndGet() > 5);
            assertTrue(stopped.interrupted());
            assertEquals(5, stopped.passes());
            assertTrue(stopped.format().startsWith("interrupted after sending "), stopped.format());

            ReplaySummary rest = TraceReplayer.replay(options, List.of(source), null);
            assertTrue(!rest.interrupted() && rest.resume().startsWith("resumed replay run-2: "), rest.format());
            List<String> seen = new ArrayList<>();
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
            p.put(ConsumerConfig.GROUP_ID_CONFIG, "check");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            try (KafkaConsumer<String, SelectionEvent> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
                    Topics.SELECTIONS.valueSerde().deserializer())) {
                consumer.subscribe(List.of(Topics.SELECTIONS.name()));
                long deadline = System.currentTimeMillis() + 60_000;
                while (seen.size() < expected.size() && System.currentTimeMillis() < deadline) {
                    consumer.poll(Duration.ofMillis(500)).forEach(r -> seen.add(r.value().getRequestId() + "#"
                            + r.value().getStep()));
                }
                consumer.poll(Duration.ofSeconds(2)).forEach(r -> seen.add(r.value().getRequestId() + "#"
                        + r.value().getStep()));
            }
            assertEquals(expected.size(), seen.size(), "no step twice, none lost");
            assertEquals(expected, new HashSet<>(seen));
        }
    }
}
