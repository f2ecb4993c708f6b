package io.expertcast.attach.sglang;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.attach.standin.RecorderStandIn;
import io.expertcast.attach.standin.SimulatedEngine;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.ExpertLoad;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topic;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** attach sglang against the recorder stand-in and a real (in-process) Kafka broker. */
class SglangAttachTest {
    private static EmbeddedKafka kafka;
    @TempDir
    Path dir;
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(log, true);

    @BeforeAll
    static void broker() throws Exception {
        kafka = EmbeddedKafka.start();
        List<NewTopic> topics = new ArrayList<>();
        for (Topic<?, ?> t : Topics.ALL) {
            NewTopic n = new NewTopic(t.name(), 1, (short) 1);
            if (t.compacted()) {
                n.configs(Map.of("cleanup.policy", "compact"));
            }
            topics.add(n);
        }
        kafka.createTopics(topics);
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    private SglangAttach.Options options(RecorderStandIn standIn, String source) {
        return new SglangAttach.Options(standIn.url(), standIn.dumpDir(), "per_token", 100, kafka.bootstrapServers(),
                source, standIn.engine().shape().modelSpec("standin-" + source), 30, 400);
    }

    private static SglangAttach.Options deleting(SglangAttach.Options o) {
        return new SglangAttach.Options(o.url(), o.dumpDir(), o.mode(), o.intervalMs(), o.bootstrap(), o.sourceId(),
                o.model(), o.settleMs(), o.maxBackoffMs(), true);
    }

    @Test
    void windowsFaultsAndAnAttachRestartPublishEveryRecordedStepExactlyOnce() throws Exception {
        String source = "faults";
        SimulatedEngine engine = new SimulatedEngine(SimulatedEngine.Shape.small(), 11);
        List<Integer> gaps = new ArrayList<>();
        try (RecorderStandIn standIn = RecorderStandIn.start(engine, dir.resolve("dumps"), RecorderStandIn.Mode.PER_TOKEN, 1, 0)) {
            SglangAttach attach = new SglangAttach(options(standIn, source), out, out);
            standIn.run(2); // before recording: never seen
            attach.startRecorder();
            gaps.add(standIn.dumpedPasses().size());
            // several windows; requests run across their edges
            for (int w : new int[] {3, 4, 1, 6}) {
                standIn.run(w);
                assertEquals(1, attach.dumpAndPublish());
            }
            // an error reply: reported, and the recorder is started again (buffer flushed first)
            standIn.run(3);
            standIn.failNext(1, 500);
            IOException error = assertThrows(IOException.class, attach::dumpAndPublish);
            assertTrue(error.getMessage().contains("HTTP 500"), error.getMessage());
            attach.startRecorder();
            gaps.add(standIn.dumpedPasses().size());
            // a half-written file is not read until it is whole
            standIn.run(4);
            Runnable finish = standIn.dumpHalfWritten();
            assertEquals(0, attach.publishSettled());
            finish.run();
            assertEquals(1, attach.publishSettled());
            // the server crashes with passes recorded but not dumped, and comes back
            standIn.run(5);
            assertEquals(1, attach.dumpAndPublish());
            standIn.run(2);
            standIn.crash();
            assertThrows(IOException.class, attach::dumpAndPublish);
            standIn.restart();
            attach.startRecorder();
            gaps.add(standIn.dumpedPasses().size());
            standIn.run(4);
            assertEquals(1, attach.dumpAndPublish());
            // attach dies after a dump call, before it published the file, with requests open
            standIn.run(3);
            standIn.dump();
            attach.close();
            attach = new SglangAttach(options(standIn, source), out, out);
            attach.startRecorder(); // publishes the left-over dump, then starts again
            gaps.add(standIn.dumpedPasses().size());
            standIn.run(6);
            assertEquals(1, attach.dumpAndPublish());
            standIn.run(3);
            attach.shutdown(true);
            assertFalse(standIn.recording(), "the recorder it started is stopped");
            assertTrue(java.util.regex.Pattern.compile(", [1-9][0-9]* continued from the previous window")
                    .matcher(log.toString()).find(), "some request ran across a window edge: " + log);
            attach.close();

            List<SelectionEvent> events = read(Topics.SELECTIONS).stream()
                    .filter(e -> e.getRequestId().startsWith(source + "/")).toList();
            Truth.assertSame(Truth.expected(standIn.dumpedPasses(), gaps, source), Truth.actual(events));
            assertTrue(events.stream().allMatch(e -> e.getSource().equals(source)));
            Set<String> once = new HashSet<>();
            for (SelectionEvent e : events) {
                assertTrue(once.add(e.getRequestId() + "#" + e.getStep() + "@" + e.getTokenOffset()), "repeated " + e);
            }
            List<ForwardPass> passes = read(Topics.PASSES).stream()
                    .filter(p -> p.getModel().equals("standin-" + source)).toList();
            for (int i = 0; i < passes.size(); i++) {
                assertEquals(i, passes.get(i).getPassId(), "passes in order, none repeated");
                assertEquals(source, passes.get(i).getSource());
            }
            // one load per window with passes in it, every count a recorded pick
            List<ExpertLoad> loads = read(Topics.EXPERT_LOAD).stream()
                    .filter(l -> l.getSourceId().equals(source)).toList();
            long picks = loads.stream().flatMap(l -> l.getCounts().stream()).mapToLong(Long::longValue).sum();
            long recordedTokens = standIn.dumpedPasses().stream().flatMap(p -> p.chunks().stream())
                    .mapToLong(SimulatedEngine.Chunk::tokenCount).sum();
            assertEquals(recordedTokens * 3 * 4, picks);
            assertEquals(List.of(), read(Topics.DEAD_LETTER).stream()
                    .filter(d -> d.getSourceTopic().contains(dir.resolve("dumps").toString())).toList());
        }
    }

    @Test
    void aFileThatIsNotARecorderDumpIsADeadLetterAndTheServiceGoesOn() throws Exception {
        String source = "bad-file";
        SimulatedEngine engine = new SimulatedEngine(SimulatedEngine.Shape.small(), 5);
        Path dumps = dir.resolve("bad-dumps");
        try (RecorderStandIn standIn = RecorderStandIn.start(engine, dumps, RecorderStandIn.Mode.PER_TOKEN, 1, 0);
             SglangAttach attach = new SglangAttach(options(standIn, source), out, out)) {
            attach.startRecorder();
            Files.copy(Path.of("../trace-replayer/src/test/resources/sglang/not_a_dump.pt"),
                    dumps.resolve("expert_distribution_recorder_1.000000_0.pt"));
            Files.write(dumps.resolve("expert_distribution_recorder_2.000000_0.pt"), new byte[] {'P', 'K', 3});
            standIn.run(5);
            // the whole file that is no dump is reported at once; the truncated zip after a few looks (it may
            // still have been being written), and the windows behind it wait for it, then go out in order
            assertEquals(1, attach.dumpAndPublish(), log.toString());
            for (int i = 2; i < SglangAttach.UNREADABLE_LOOKS; i++) {
                assertEquals(0, attach.dumpAndPublish(), log.toString());
            }
            standIn.run(2);
            // the truncated file's dead letter, and one window per dump call so far
            assertEquals(1 + SglangAttach.UNREADABLE_LOOKS, attach.dumpAndPublish(), log.toString());
            List<DeadLetter> dead = read(Topics.DEAD_LETTER).stream()
                    .filter(d -> d.getSourceTopic().endsWith("bad-dumps")).toList();
            assertEquals(2, dead.size());
            assertTrue(dead.get(0).getReason().contains("not an expert distribution recorder dump"), dead.get(0).getReason());
            assertTrue(dead.get(1).getReason().contains("not a torch.save file"), dead.get(1).getReason());
            assertTrue(read(Topics.SELECTIONS).stream().anyMatch(e -> e.getRequestId().startsWith(source + "/")));
        }
    }

    @Test
    void statAndPerPassWindowsArePublishedAsLoadsEqualToTheRecordedPicks() throws Exception {
        for (RecorderStandIn.Mode mode : List.of(RecorderStandIn.Mode.STAT, RecorderStandIn.Mode.PER_PASS)) {
            String source = "load-" + mode.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
            SimulatedEngine engine = new SimulatedEngine(SimulatedEngine.Shape.small(), 13);
            try (RecorderStandIn standIn = RecorderStandIn.start(engine, dir.resolve(source), mode, 1, 0);
                 SglangAttach attach = new SglangAttach(options(standIn, source), out, out)) {
                attach.startRecorder();
                int before = standIn.dumpedPasses().size();
                standIn.run(7);
                assertEquals(1, attach.dumpAndPublish());
                // the truth: logical picks per layer of the passes in that window
                long[][] expected = new long[4][12];
                for (SimulatedEngine.Pass p : standIn.dumpedPasses().subList(before, standIn.dumpedPasses().size())) {
                    for (SimulatedEngine.Chunk c : p.chunks()) {
                        for (int i = 0; i < c.logicalIds().length; i++) {
                            expected[1 + (i / 4) % 3][c.logicalIds()[i]]++;
                        }
                    }
                }
                List<ExpertLoad> loads = read(Topics.EXPERT_LOAD).stream()
                        .filter(l -> l.getSourceId().equals(source)
                                && l.getCounts().stream().mapToLong(Long::longValue).sum() > 0).toList(); // not the flush at start
                assertEquals(1, loads.size(), log.toString());
                ExpertLoad load = loads.get(0);
                assertEquals(mode == RecorderStandIn.Mode.STAT ? "stat" : "per_pass", load.getMode());
                assertEquals(mode == RecorderStandIn.Mode.STAT ? -1 : 7, load.getPasses());
                List<Long> flat = new ArrayList<>();
                for (long[] row : expected) {
                    for (long c : row) {
                        flat.add(c);
                    }
                }
                assertEquals(flat, load.getCounts());
                assertTrue(read(Topics.SELECTIONS).stream().noneMatch(e -> e.getRequestId().startsWith(source + "/")),
                        "no tokens in a load window");
            }
        }
    }

    @Test
    void theServiceRetriesADownServerAndStopsTheRecorderOnStop() throws Exception {
        String source = "service";
        SimulatedEngine engine = new SimulatedEngine(SimulatedEngine.Shape.small(), 8);
        try (RecorderStandIn standIn = RecorderStandIn.start(engine, dir.resolve("svc"), RecorderStandIn.Mode.PER_TOKEN, 1, 0);
             SglangAttach attach = new SglangAttach(deleting(options(standIn, source)), out, out)) {
            standIn.failNext(3, 503);
            AtomicBoolean stop = new AtomicBoolean();
            Thread service = new Thread(() -> attach.run(stop));
            service.start();
            long deadline = System.currentTimeMillis() + 20_000;
            while (!standIn.recording() && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(standIn.recording(), log.toString());
            for (int i = 0; i < 10; i++) {
                standIn.run(2);
                Thread.sleep(60);
            }
            stop.set(true);
            service.join(20_000);
            assertFalse(service.isAlive());
            assertFalse(standIn.recording());
            assertTrue(attach.stats().serverErrors() >= 1);
            assertTrue(log.toString().contains("HTTP 503"), log.toString());
            List<SelectionEvent> mine = read(Topics.SELECTIONS).stream()
                    .filter(e -> e.getRequestId().startsWith(source + "/")).toList();
            Truth.assertSame(Truth.expected(standIn.dumpedPasses(), List.of(0), source), Truth.actual(mine));
            try (var left = Files.list(dir.resolve("svc"))) {
                assertEquals(List.of(), left.toList(), "--delete-published: every committed dump deleted");
            }
        }
    }

    private static <V> List<V> read(Topic<?, V> topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<V> values = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition tp = new TopicPartition(topic.name(), 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long end = c.endOffsets(List.of(tp)).get(tp);
            while (c.position(tp) < end) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    values.add(topic.valueSerde().deserializer().deserialize(topic.name(), r.value()));
                }
            }
        }
        return values;
    }
}
