package io.expertcast.launcher.scaleout;

import io.expertcast.streams.testing.ChildJvm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.core.wafer.Policies;
import io.expertcast.launcher.demo.PipelineStages;
import io.expertcast.local.TopicAdmin;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.replayer.ReplayOptions;
import io.expertcast.streams.pass.ScheduledPass;
import io.expertcast.replayer.TraceReplayer;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scale-out (issue 19): 3 KRaft brokers (replication factor 3, min ISR 2), two instances of each
 * stage (one in this JVM, one in a child JVM), a replay paced to last about a minute. Mid-run one
 * broker is shut down and the child JVM is killed (SIGKILL: no commit, no leave-group). The survivor
 * takes every task over, and the outputs are exact: every plan, every decode-phase and next-token
 * command and every pass under every policy once, no record twice (read_committed).
 * Prints the takeover time of each stage (docs/operations-scale-out.md).
 */
@Tag("slow")
class ScaleOutTest {
    private static final Path SAMPLE = Path.of("../data/sample");
    private static final int BATCH = 16;
    private static final int PARTITIONS = 4;
    private static final String PREFIX = "scale-";
    private static final String SOURCE = "scale-out";
    /** Tokens per second of the paced replay: the sample's 4,519 tokens in about 45 s. */
    private static final double RATE = 100;

    @TempDir
    Path work;

    /**
     * An instance's Streams settings: a dead member is noticed after 6 s (the broker's minimum) instead of
     * 45 s; {@code application.server} only names the instance in the group's metadata (nothing listens there),
     * so each instance sees who holds which task.
     */
    static Map<String, Object> overrides(String instance) {
        Map<String, Object> o = new HashMap<>();
        o.put("application.server", instance);
        o.put("consumer.session.timeout.ms", 6000);
        o.put("consumer.heartbeat.interval.ms", 1500);
        return o;
    }

    @Test
    void killingOneBrokerAndOneInstanceOfEachStageMidRunLeavesTheOutputsExact() throws Exception {
        try (KafkaClusterTestKit cluster = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                .setCombined(false).setNumBrokerNodes(3).setNumControllerNodes(1).build())
                .setConfigProp("default.replication.factor", "3")
                .setConfigProp("min.insync.replicas", "2")
                .setConfigProp("offsets.topic.replication.factor", "3")
                .setConfigProp("offsets.topic.num.partitions", "3")
                .setConfigProp("transaction.state.log.replication.factor", "3")
                .setConfigProp("transaction.state.log.min.isr", "2")
                .setConfigProp("transaction.state.log.num.partitions", "3")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .build()) {
            cluster.format();
            cluster.startup();
            cluster.waitForReadyBrokers();
            String bootstrap = cluster.bootstrapServers();
            try (TopicAdmin admin = new TopicAdmin(bootstrap, Duration.ofSeconds(60))) {
                assertEquals(3, admin.defaultReplicationFactor());
                admin.createAll(Topics.ALL, PARTITIONS, admin.defaultReplicationFactor());
            }
            Expected expected = expected();

            Process child = startChild(bootstrap);
            PipelineStages survivor = null;
            try {
                survivor = PipelineStages.start(bootstrap, work.resolve("a"), PREFIX, overrides("127.0.0.1:1"));
                survivor.awaitRunning(Duration.ofMinutes(3));
                awaitShared(survivor, Duration.ofMinutes(3));

                CompletableFuture<?> replay = CompletableFuture.runAsync(() -> TraceReplayer.replay(
                        new ReplayOptions(bootstrap, SAMPLE, BATCH, RATE, 0, true, 256, null, 0, SOURCE), null));
                Outputs outputs = new Outputs(bootstrap);
                // Mid-run: once a fifth of the plans are out.
                long deadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
                while (outputs.plans.size() < expected.plans / 5 && System.nanoTime() < deadline) {
                    outputs.poll();
                }
                assertTrue(outputs.plans.size() < expected.plans, "killed mid-run: " + outputs.plans.size() + " plans");
                long killedAt = System.nanoTime();
                int victim = cluster.brokers().keySet().iterator().next();
                child.destroyForcibly();
                CompletableFuture<Void> brokerDown = CompletableFuture.runAsync(
                        () -> cluster.brokers().get(victim).shutdown());
                Map<String, Double> takeover = awaitTakeover(survivor, killedAt, Duration.ofMinutes(3));
                brokerDown.get();
                System.out.printf("scale-out: killed broker %d and the child JVM's stages at %d of %d plans;"
                        + " takeover (s after the kill): %s%n", victim, outputs.plans.size(), expected.plans, takeover);

                replay.get();
                deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
                while (!outputs.reached(expected) && System.nanoTime() < deadline) {
                    outputs.poll();
                }
                outputs.drain();
                System.out.printf("scale-out: all outputs %.1f s after the kill%n", (System.nanoTime() - killedAt) / 1e9);

                assertEquals(expected.plans, outputs.plans.size(), "plans, each (pass, layer) once");
                assertEquals(expected.plans, outputs.planRecords, "no plan twice");
                assertEquals(expected.decodePhase, outputs.decodePhase.size(), "decode-phase commands");
                assertEquals(expected.nextToken, outputs.nextToken.size(), "next-token commands");
                // Prefetch commands are sent at once and at least once (PrefetchDelivery.IMMEDIATE): the records the
                // killed instance processed after its last commit are processed again and their commands sent again
                // (harmless: the emulator files a command sent twice once). Every command is there, none is lost.
                assertTrue(outputs.commandRecords >= expected.decodePhase + expected.nextToken, "no command lost");
                System.out.printf("scale-out: %d prefetch commands sent again after the kill%n",
                        outputs.commandRecords - expected.decodePhase - expected.nextToken);
                for (String policy : Policies.ALL) {
                    WaferMetrics m = outputs.wafer.get("llama4-maverick/" + SOURCE + "/" + policy);
                    assertEquals(expected.passes, m == null ? 0 : m.getPasses(), policy + " passes");
                    assertEquals(expected.tokens, m.getTokens(), policy + " tokens");
                }
            } finally {
                child.destroyForcibly();
                if (survivor != null) {
                    survivor.close();
                }
            }
        }
    }

    private Process startChild(String bootstrap) throws Exception {
        ChildJvm child = ChildJvm.start(work, "child", "512m", StageInstance.class, bootstrap,
                work.resolve("b").toString(), PREFIX, "127.0.0.1:2");
        child.await(Duration.ofMinutes(3), "RUNNING");
        return child.process();
    }

    /** Until the two instances share the work: each stage has two clients, the survivor some tasks. */
    private static void awaitShared(PipelineStages stages, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            boolean shared = true;
            for (KafkaStreams s : stages.streams()) {
                shared &= s.state() == KafkaStreams.State.RUNNING && s.metadataForAllStreamsClients().size() == 2
                        && activeTasks(s) > 0;
            }
            if (shared) {
                return;
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("the two instances never shared the tasks: " + stages.states());
    }

    /** Seconds from the kill until each stage's survivor is the group's only member, running every task. */
    private static Map<String, Double> awaitTakeover(PipelineStages stages, long killedAt, Duration timeout)
            throws InterruptedException {
        Map<String, Double> at = new java.util.TreeMap<>();
        List<KafkaStreams> streams = stages.streams();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (at.size() < streams.size() && System.nanoTime() < deadline) {
            for (int i = 0; i < streams.size(); i++) {
                KafkaStreams s = streams.get(i);
                String name = stages.names().get(i);
                if (!at.containsKey(name) && s.state() == KafkaStreams.State.RUNNING
                        && s.metadataForAllStreamsClients().size() == 1 && activeTasks(s) > 0) {
                    at.put(name, Math.round((System.nanoTime() - killedAt) / 1e8) / 10.0);
                }
            }
            Thread.sleep(100);
        }
        assertEquals(streams.size(), at.size(), "every stage taken over: " + at + "; " + stages.states());
        return at;
    }

    private static int activeTasks(KafkaStreams s) {
        return s.metadataForLocalThreads().stream().mapToInt(t -> t.activeTasks().size()).sum();
    }

    /** What the replay must produce, computed from the same files and the same batching. */
    private record Expected(long passes, long tokens, long plans, long decodePhase, long nextToken) {
    }

    private static Expected expected() {
        ModelCatalog catalog = ModelCatalog.standard();
        List<RequestTrace> requests = new ArrayList<>();
        Iterator<RequestTrace> it = TraceDataset.open(SAMPLE, catalog).requests(true, new ArrayList<>());
        it.forEachRemaining(requests::add);
        long passes = 0;
        long tokens = 0;
        BatchScheduler scheduler = new BatchScheduler(requests.iterator(), BATCH, 256, () -> 0L);
        while (scheduler.hasNext()) {
            ScheduledPass p = scheduler.next();
            passes++;
            tokens += p.pass().getTotalTokens();
        }
        long decodePhase = requests.stream().filter(r -> r.numDecodeSteps() > 0).count();
        long nextToken = requests.stream().mapToLong(r -> Math.max(0, r.numDecodeSteps() - 1)).sum();
        int layers = catalog.byId("llama4-maverick").orElseThrow().numMoeLayers();
        return new Expected(passes, tokens, passes * layers, decodePhase, nextToken);
    }

    /** The committed outputs, by identity, and how many records carried them. */
    private static final class Outputs {
        final KafkaConsumer<byte[], byte[]> consumer;
        final Set<String> plans = new HashSet<>();
        long planRecords;
        final Set<String> decodePhase = new HashSet<>();
        final Set<String> nextToken = new HashSet<>();
        long commandRecords;
        final Map<String, WaferMetrics> wafer = new HashMap<>();

        Outputs(String bootstrap) {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
            List<TopicPartition> parts = new ArrayList<>();
            for (String t : List.of(Topics.ALLOCATIONS.name(), Topics.PREFETCH.name(), Topics.WAFER_METRICS.name())) {
                consumer.partitionsFor(t, Duration.ofSeconds(30))
                        .forEach(i -> parts.add(new TopicPartition(t, i.partition())));
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
        }

        void poll() {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                if (r.topic().equals(Topics.ALLOCATIONS.name())) {
                    AllocationPlan plan = Topics.ALLOCATIONS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                    plans.add(plan.getSource() + "/" + plan.getPassId() + "/" + plan.getLayer());
                    planRecords++;
                } else if (r.topic().equals(Topics.PREFETCH.name())) {
                    PrefetchCommand c = Topics.PREFETCH.valueSerde().deserializer().deserialize(r.topic(), r.value());
                    (c.getScope() == PrefetchScope.DECODE_PHASE ? decodePhase : nextToken)
                            .add(c.getRequestId() + "/" + c.getTargetStep());
                    commandRecords++;
                } else {
                    WaferMetrics m = Topics.WAFER_METRICS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                    wafer.put(new String(r.key(), java.nio.charset.StandardCharsets.UTF_8), m);
                }
            }
        }

        boolean reached(Expected e) {
            if (plans.size() < e.plans || decodePhase.size() < e.decodePhase || nextToken.size() < e.nextToken) {
                return false;
            }
            for (String policy : Policies.ALL) {
                WaferMetrics m = wafer.get("llama4-maverick/" + SOURCE + "/" + policy);
                if (m == null || m.getPasses() < e.passes) {
                    return false;
                }
            }
            return true;
        }

        /** A few more polls, so that a record written twice would be seen. */
        void drain() {
            for (int i = 0; i < 6; i++) {
                poll();
            }
            consumer.close(Duration.ofSeconds(5));
        }
    }
}
