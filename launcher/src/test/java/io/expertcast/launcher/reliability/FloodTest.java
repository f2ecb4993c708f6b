package io.expertcast.launcher.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.allocator.AllocatorApp;
import io.expertcast.allocator.AllocatorSettings;
import io.expertcast.emulator.EmulatorApp;
import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.predictor.PredictorApp;
import io.expertcast.predictor.PredictorSettings;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.RejectionLog;
import io.expertcast.streams.StreamsTestData;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19, "Bad input, memory and load": 10,000 malformed records on moe.selections (undecodable
 * bytes, an unknown model, expert ids out of range) reach the three services running side by side
 * on a real broker. Every one is dead-lettered by each service, the services stay RUNNING and
 * process the next valid record, the heap after a GC is back within 20 % of its level before the
 * flood, and the flood writes a few summary lines instead of a stack trace per record. Not timed.
 */
class FloodTest {
    private static final int FLOOD = 10_000;

    @TempDir
    Path stateDir;

    /** Bytes written to stderr (slf4j-simple's target) while it is installed, passed through. */
    private static final class Tee extends OutputStream {
        final PrintStream original;
        final ByteArrayOutputStream copy = new ByteArrayOutputStream();

        Tee(PrintStream original) {
            this.original = original;
        }

        @Override
        public synchronized void write(int b) {
            original.write(b);
            copy.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            original.write(b, off, len);
            copy.write(b, off, len);
        }

        synchronized String text() {
            return copy.toString(StandardCharsets.UTF_8);
        }
    }

    private static long heapAfterGc() throws InterruptedException {
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(200);
            least = Math.min(least, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return least;
    }

    private static byte[] encode(SelectionEvent e) {
        return Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(), e);
    }

    /** One valid request (prefill and a decode step) in two passes, ids offset by {@code base}. */
    private static List<ProducerRecord<byte[], byte[]>> valid(String request, long firstPass) {
        byte[] key = request.getBytes(StandardCharsets.UTF_8);
        byte[] model = StreamsTestData.MODEL.getBytes(StandardCharsets.UTF_8);
        var passes = Topics.PASSES.valueSerde().serializer();
        return List.of(
                new ProducerRecord<>(Topics.SELECTIONS.name(), key,
                        encode(StreamsTestData.selection(request, 0, 0, 4, firstPass, 0, 5))),
                new ProducerRecord<>(Topics.PASSES.name(), model, passes.serialize(Topics.PASSES.name(),
                        StreamsTestData.pass(firstPass, List.of(new PassEntry(request, 0, 4))))),
                new ProducerRecord<>(Topics.SELECTIONS.name(), key,
                        encode(StreamsTestData.selection(request, 1, 4, 1, firstPass + 1, 0, 5))),
                new ProducerRecord<>(Topics.PASSES.name(), model, passes.serialize(Topics.PASSES.name(),
                        StreamsTestData.pass(firstPass + 1, List.of(new PassEntry(request, 1, 1))))));
    }

    /** Malformed record i: undecodable bytes, an unknown model, or an expert id out of range. */
    private static ProducerRecord<byte[], byte[]> malformed(int i, Random random) {
        byte[] key = ("bad-" + i).getBytes(StandardCharsets.UTF_8);
        switch (i % 3) {
            case 0 -> {
                byte[] garbage = new byte[200 + random.nextInt(400)];
                random.nextBytes(garbage);
                return new ProducerRecord<>(Topics.SELECTIONS.name(), key, garbage);
            }
            case 1 -> {
                SelectionEvent e = StreamsTestData.selection("bad-" + i, 1, 0, 1, 0L, 0, 5);
                e.setModel("no-such-model-" + i);
                return new ProducerRecord<>(Topics.SELECTIONS.name(), key, encode(e));
            }
            default -> {
                SelectionEvent e = StreamsTestData.selection("bad-" + i, 1, 0, 1, 0L, 0, 5);
                ByteBuffer ids = ByteBuffer.allocate(48).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                for (int l = 0; l < 24; l++) {
                    ids.putShort((short) (128 + i % 1000));
                }
                e.setExpertIds(ids.flip());
                return new ProducerRecord<>(Topics.SELECTIONS.name(), key, encode(e));
            }
        }
    }

    private static void send(String bootstrap, List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.LINGER_MS_CONFIG, 20), new ByteArraySerializer(), new ByteArraySerializer())) {
            for (var r : records) {
                producer.send(r);
            }
            producer.flush();
        }
    }

    @Test
    void tenThousandMalformedRecordsAreAllDeadLetteredAndMemoryAndLogsStayBounded() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createPipelineTopics(1);
            String bootstrap = kafka.bootstrapServers();
            List<KafkaStreams> services = List.of(
                    PredictorApp.start(bootstrap, stateDir.resolve("predictor"), PredictorSettings.defaults(), Map.of()),
                    AllocatorApp.start(bootstrap, stateDir.resolve("allocator"), AllocatorSettings.defaults(), Map.of()),
                    EmulatorApp.start(bootstrap, stateDir.resolve("emulator"), EmulatorSettings.defaults(), Map.of()));
            try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ConsumerConfig.GROUP_ID_CONFIG, "flood-test",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                    new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                consumer.subscribe(List.of(Topics.DEAD_LETTER.name(), Topics.ALLOCATIONS.name(),
                        Topics.WAFER_METRICS.name(), Topics.PREFETCH.name()));
                Map<String, Integer> seen = new HashMap<>();
                Map<String, Integer> lettersBy = new HashMap<>();
                Runnable poll = () -> consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                    seen.merge(r.topic(), 1, Integer::sum);
                    if (r.topic().equals(Topics.DEAD_LETTER.name())) {
                        DeadLetter letter = Topics.DEAD_LETTER.valueSerde().deserializer().deserialize(r.topic(), r.value());
                        lettersBy.merge(letter.getApplication(), 1, Integer::sum);
                    }
                });
                // Warm up with valid traffic through all three stages.
                send(bootstrap, valid("warm", 0));
                Poll.until(Duration.ofSeconds(120), () -> {
                    poll.run();
                    return seen.getOrDefault(Topics.ALLOCATIONS.name(), 0) >= 48
                            && seen.getOrDefault(Topics.WAFER_METRICS.name(), 0) > 0
                            && seen.getOrDefault(Topics.PREFETCH.name(), 0) > 0;
                }, "the warm-up request through the three services");
                long heapBefore = heapAfterGc();

                PrintStream err = System.err;
                Tee tee = new Tee(err);
                System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
                String logged;
                try {
                    Random random = new Random(19);
                    List<ProducerRecord<byte[], byte[]>> flood = new ArrayList<>(FLOOD);
                    for (int i = 0; i < FLOOD; i++) {
                        flood.add(malformed(i, random));
                    }
                    send(bootstrap, flood);
                    Poll.until(Duration.ofSeconds(300), () -> {
                        poll.run();
                        return lettersBy.values().stream().mapToInt(Integer::intValue).sum() >= 3 * FLOOD;
                    }, "30,000 dead letters");
                    RejectionLog.shared().flush(System.currentTimeMillis());
                    logged = tee.text();
                } finally {
                    System.setErr(err);
                }
                assertEquals(3, lettersBy.size(), "every service dead-lettered: " + lettersBy);
                lettersBy.forEach((app, n) -> assertEquals(FLOOD, n, app + " dead-lettered every malformed record"));

                // Healthy: every service still runs and processes the next valid request.
                int plansBefore = seen.getOrDefault(Topics.ALLOCATIONS.name(), 0);
                int commandsBefore = seen.getOrDefault(Topics.PREFETCH.name(), 0);
                int metricsBefore = seen.getOrDefault(Topics.WAFER_METRICS.name(), 0);
                send(bootstrap, valid("after", 2));
                Poll.until(Duration.ofSeconds(120), () -> {
                    poll.run();
                    return seen.getOrDefault(Topics.ALLOCATIONS.name(), 0) >= plansBefore + 48
                            && seen.getOrDefault(Topics.PREFETCH.name(), 0) > commandsBefore
                            && seen.getOrDefault(Topics.WAFER_METRICS.name(), 0) > metricsBefore;
                }, "the next valid request through the three services");
                services.forEach(s -> assertEquals(KafkaStreams.State.RUNNING, s.state()));

                // Logs: summary lines, no stack trace per record (it was ~2.5 KB per record per service).
                long stackFrames = logged.lines().filter(l -> l.startsWith("\tat ")).count();
                long summaries = logged.lines().filter(l -> l.contains("to the dead letters in the last")).count();
                System.out.println("flood: " + logged.length() + " bytes of log, " + stackFrames + " stack frames, "
                        + summaries + " summary lines");
                assertTrue(stackFrames < 100, stackFrames + " stack-trace lines during the flood");
                assertTrue(summaries >= 3 && summaries <= 3 * 3 * 3, summaries + " summary lines (kinds x services x flushes)");
                assertTrue(logged.length() < 512 * 1024, logged.length() + " bytes of log for 10,000 bad records");

                long heapAfter = heapAfterGc();
                System.out.println("flood: heap after GC " + heapBefore / 1_000_000 + " MB before, "
                        + heapAfter / 1_000_000 + " MB after");
                assertTrue(heapAfter <= heapBefore * 1.2, "heap after the flood " + heapAfter + " vs before " + heapBefore);
            } finally {
                services.forEach(s -> s.close(Duration.ofSeconds(30)));
            }
        }
    }
}
