package io.expertcast.predictor;

import io.expertcast.streams.testing.ChildJvm;
import io.expertcast.streams.testing.EmbeddedKafka;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.expertcast.core.trace.RequestTrace;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16 item 6, issue 19 item 5: the predictor runs as a JVM of its own against a real broker, a trace is
 * replayed at a steady pace, and the predictor is killed with SIGKILL (no commit, no close) three times
 * mid-stream, each time restarted on the same state directory. At the end the global heatmaps (the whole
 * tables and popularity last published on moe.heatmaps, what a restart restores from) and the accuracy
 * totals (moe.predictor-metrics) equal those of a run without a crash: every count exactly once.
 *
 * <p>The run without a crash is the same topology over the same events in a {@link TopologyTestDriver}:
 * with no decay the counts are sums, the same in whatever order the request-side tasks' lessons interleave
 * ({@link ExactOutputs}).
 * Of the accuracy, what does not depend on when a publication was read is compared: samples, selected,
 * requests of every predictor, and hits and predictions of the prefill-only plan.
 */
@Tag("slow")
class PredictorCrashExactTest {
    private static final int KILLS = 3;

    @TempDir
    Path work;

    @Test
    void killedThreeTimesMidStreamTheHeatmapsAndAccuracyEqualARunWithoutACrash() throws Exception {
        List<SelectionEvent> events = trace();
        ExactOutputs expected = ExactOutputs.oneRun(events);
        assertFalse(expected.heatmaps.isEmpty());
        try (EmbeddedKafka cluster = EmbeddedKafka.start()) {
            String bootstrap = cluster.bootstrapServers();
            cluster.createPipelineTopics(2);
            Process child = startPredictor(bootstrap, 0);
            try {
                CompletableFuture<Void> replay = CompletableFuture.runAsync(() -> produce(bootstrap, events));
                for (int kill = 1; kill <= KILLS; kill++) {
                    Thread.sleep(3500); // into the stream: the predictor has batches, counts and snapshots in flight
                    child.destroyForcibly(); // SIGKILL
                    child.waitFor();
                    child = startPredictor(bootstrap, kill);
                }
                replay.get();
                ExactOutputs live = ExactOutputs.read(bootstrap, "crash-exact-check", expected);
                List<String> differences = expected.differences(live, "without a crash", "after " + KILLS + " kills");
                assertEquals(List.of(), differences);
            } finally {
                child.destroyForcibly();
                child.waitFor();
                // What the restarts did (restore and replay), for the reader of the test's output.
                for (int run = 0; run <= KILLS; run++) {
                    Path log = work.resolve("predictor-" + run + ".log");
                    if (Files.exists(log)) {
                        for (String line : Files.readAllLines(log)) {
                            if (line.contains("replayed in") || line.contains("are gone")) {
                                System.out.println("run " + run + ": " + line);
                            }
                        }
                    }
                }
            }
        }
    }

    /** 40 requests of 10 prefill tokens (3 chunks) and 45 decode steps each, in lockstep: 1,920 events. */
    static List<SelectionEvent> trace() {
        List<RequestTrace> requests = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            requests.add(TraceEvents.randomRequest(CrashablePredictor.TOY, "crash-" + i, 10, 45, 1000 + i));
        }
        return TraceEvents.lockstep(requests, 4);
    }

    /** The events at ~55 per second (about 35 s), each keyed by its request as a replay keys it. */
    static void produce(String bootstrap, List<SelectionEvent> events) {
        try (KafkaProducer<String, SelectionEvent> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap), new StringSerializer(),
                Topics.SELECTIONS.valueSerde().serializer())) {
            for (SelectionEvent e : events) {
                producer.send(new ProducerRecord<>(Topics.SELECTIONS.name(), Topics.selectionKey(e), e));
                Thread.sleep(18);
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Process startPredictor(String bootstrap, int run) throws Exception {
        ChildJvm child = ChildJvm.start(work, "predictor-" + run, "256m", CrashablePredictor.class, bootstrap,
                work.resolve("state").toString());
        if (!"RUNNING\n".equals(child.awaitOutput(Duration.ofMinutes(2), "NOT RUNNING", "RUNNING\n"))) {
            child.process().destroyForcibly();
            throw new IllegalStateException("the predictor did not start: " + child.log());
        }
        return child.process();
    }
}
