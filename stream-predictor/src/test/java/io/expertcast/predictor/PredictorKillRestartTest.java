package io.expertcast.predictor;

import io.expertcast.streams.testing.ChildJvm;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import io.expertcast.streams.testing.PoisonRecords;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A predictor killed -9 once its global heatmap store holds data starts again on the same state
 * directory. Under exactly-once Kafka Streams 4.3 finds such a global store "corrupted" and its global
 * thread died at every start (KAFKA-21034), so the service could not come back (found by the fault
 * suite's oversized scenario, which kills every instance); the predictor now rebuilds the copy from
 * moe.heatmaps ({@code GlobalStoreCopies}).
 */
class PredictorKillRestartTest {
    @TempDir
    Path work;

    private final List<Process> children = new ArrayList<>();

    /** The predictor in a JVM of its own until killed; prints RUNNING, or ERROR if it stopped. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            KafkaStreams streams = PredictorApp.start(args[0], Path.of(args[1]),
                    PredictorSettings.defaults().withApplicationName("kill-restart"),
                    Map.of("consumer.session.timeout.ms", 6000, "consumer.heartbeat.interval.ms", 1500,
                            // A small RocksDB budget, so the global store's memtable is flushed to disk by the
                            // write buffer manager before Streams writes the store's offsets (every 10,000 records).
                            "expertcast.rocksdb.memory.bytes", 4L << 20));
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (streams.state() != KafkaStreams.State.RUNNING) {
                KafkaStreams.State s = streams.state();
                if (s == KafkaStreams.State.ERROR || s == KafkaStreams.State.PENDING_ERROR
                        || s == KafkaStreams.State.NOT_RUNNING || System.nanoTime() > deadline) {
                    System.out.println("ERROR " + s);
                    System.out.flush();
                    Runtime.getRuntime().halt(1);
                }
                Thread.sleep(100);
            }
            System.out.println("RUNNING");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    /** Starts the child and returns what it printed first: RUNNING or ERROR (also when it exited). */
    private String start(String bootstrap, String name) throws Exception {
        ChildJvm child = ChildJvm.start(work, name, "384m", Child.class, bootstrap, work.resolve("state").toString());
        children.add(child.process());
        String said = child.awaitOutput(Duration.ofSeconds(150), "RUNNING", "ERROR");
        return said == null ? "ERROR" : said;
    }

    @Test
    void aPredictorKilledWithHeatmapsInItsGlobalStoreStartsAgain() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createPipelineTopics(1);
            String bootstrap = kafka.bootstrapServers();
            try {
                Process first = null;
                assertTrue("RUNNING".equals(start(bootstrap, "first")), "the first start");
                first = children.get(0);
                // Heatmap records on moe.heatmaps (8 MB, fewer than 10,000): the global store copies their bytes.
                List<ProducerRecord<byte[], byte[]>> heatmaps = new ArrayList<>();
                for (int i = 0; i < 4000; i++) {
                    heatmaps.add(new ProducerRecord<>(Topics.HEATMAPS.name(),
                            ("llama4-maverick/" + i + "/TOKEN").getBytes(StandardCharsets.UTF_8), new byte[2048]));
                }
                PoisonRecords.send(bootstrap, heatmaps);
                Path store = work.resolve("state").resolve("kill-restart").resolve("global");
                Poll.until(Duration.ofSeconds(60), () -> {
                    try (var files = Files.walk(store)) {
                        return files.anyMatch(f -> f.getFileName().toString().endsWith(".sst"));
                    } catch (java.io.IOException e) {
                        return false;
                    }
                }, "the global store's data flushed to disk");
                Thread.sleep(3000); // the global thread has read the records
                first.destroyForcibly().waitFor();
                assertTrue("RUNNING".equals(start(bootstrap, "second")),
                        "the start after kill -9; see " + work.resolve("second.log"));
            } finally {
                children.forEach(Process::destroyForcibly);
                for (Process p : children) {
                    p.waitFor();
                }
            }
        }
    }
}
