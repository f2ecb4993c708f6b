package io.expertcast.launcher.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.launcher.ExpertcastCommand;
import io.expertcast.local.TopicAdmin;
import io.expertcast.schemas.Topic;
import io.expertcast.schemas.Topics;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import io.expertcast.local.LocalBroker;
import io.expertcast.local.LocalBrokerException;

/**
 * The real thing: a kafka.Kafka child JVM on free loopback ports in a temporary work dir, the
 * pipeline's topics created on it, then stopped by its PID. One broker for the class (a start costs
 * seconds on a 2-core machine); {@link #stopBroker()} makes sure none outlives the tests.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalBrokerTest {

    private static final int PARTITIONS = 3;

    @TempDir
    static Path work;

    private static LocalBroker broker;
    private static long pid;

    @BeforeAll
    static void startBroker() throws IOException {
        broker = LocalBroker.withCurrentClasspath(work, freePort(), freePort());
        pid = broker.start(Duration.ofSeconds(90));
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.stop(Duration.ofSeconds(20));
        }
    }

    @Test
    @Order(1)
    void startedBrokerRunsAndAnswersWithTheFixedClusterId() throws IOException {
        LocalBroker.Status status = broker.status(Duration.ofSeconds(10));
        assertEquals(pid, status.pid().getAsLong());
        assertEquals(Optional.of(LocalBroker.CLUSTER_ID), status.clusterId());
        assertEquals(Long.toString(pid), Files.readString(broker.pidFile()).trim());
        assertTrue(Files.exists(broker.dataDir().resolve("meta.properties")), "storage formatted");
        assertTrue(Files.readString(broker.dataDir().resolve("meta.properties")).contains(LocalBroker.CLUSTER_ID));
    }

    @Test
    @Order(2)
    void statusCommandFindsTheRecordedPortsAndSaysItAnswers() {
        StringWriter out = new StringWriter();
        // No --port: status reads the free port the start recorded, not the default 9092.
        int code = run(out, "broker", "status", "--work-dir", work.toString());
        assertEquals(0, code, out.toString());
        assertTrue(out.toString().contains("answers at " + broker.bootstrapServers()), out.toString());
    }

    @Test
    @Order(3)
    void aSecondStartIsRefusedWhileTheBrokerRuns() {
        LocalBroker again = LocalBroker.withCurrentClasspath(work, Integer.parseInt(port()), 1);
        LocalBrokerException e = assertThrows(LocalBrokerException.class, () -> again.start(Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("already runs"), e.getMessage());
        assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "first broker untouched");
    }

    @Test
    @Order(3)
    void theDemoAndTheBenchRefuseAWorkDirWhoseBrokerRunsAndWipeNothing() throws IOException {
        // The demo's bundled sample, so the demo gets as far as its broker (surefire runs in launcher/).
        String sample = Path.of("").toAbsolutePath().getParent().resolve("data").resolve("sample").toString();
        for (String[] command : List.of(new String[] {"demo", "--traces", sample}, new String[] {"bench", "predictor"})) {
            StringWriter out = new StringWriter();
            List<String> args = new ArrayList<>(List.of(command));
            args.addAll(List.of("--work-dir", work.toString(), "--port", Integer.toString(freePort()),
                    "--controller-port", Integer.toString(freePort())));
            int code = run(out, args.toArray(String[]::new));
            assertNotEquals(0, code, out.toString());
            assertTrue(out.toString().contains("already runs"), String.join(" ", command) + ": " + out);
            assertTrue(Files.exists(broker.dataDir().resolve("meta.properties")), "broker data left alone");
            assertTrue(Files.exists(broker.pidFile()), "pid file left alone");
            assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "broker untouched");
        }
        assertEquals(pid, broker.status(Duration.ofSeconds(10)).pid().getAsLong(), "still answers");
    }

    @Test
    @Order(4)
    void topicsAreCreatedOnceWithTheRegistryCleanupPolicy() {
        try (TopicAdmin admin = new TopicAdmin(broker.bootstrapServers(), Duration.ofSeconds(30))) {
            TopicAdmin.Creation first = admin.createAll(Topics.ALL, PARTITIONS, (short) 1);
            List<String> names = Topics.ALL.stream().map(Topic::name).toList();
            assertEquals(16, names.size());
            // What a restarting predictor replays: deleted by time, an hour kept.
            assertEquals(Map.of("cleanup.policy", "delete", "retention.ms", "3600000", "segment.ms", "600000"),
                    TopicAdmin.configs(Topics.HEATMAP_LESSONS));
            assertEquals(names, first.created());
            assertEquals(List.of(), first.existing());

            Map<String, String> policies = admin.cleanupPolicies(names);
            for (Topic<?, ?> topic : Topics.ALL) {
                assertEquals(topic.compacted() ? "compact" : "delete", policies.get(topic.name()), topic.name());
            }
            assertEquals(List.of("moe.attach-checkpoints", "moe.heatmaps", "moe.placement", "moe.prediction-tables",
                    "moe.replay-checkpoints"),
                    policies.entrySet().stream().filter(e -> e.getValue().equals("compact")).map(Map.Entry::getKey)
                            .sorted().toList());

            TopicAdmin.Creation second = admin.createAll(Topics.ALL, PARTITIONS, (short) 1);
            assertEquals(List.of(), second.created());
            assertEquals(names, second.existing());
            assertEquals(List.of(), second.mismatches());

            Map<String, Integer> partitions = admin.list().stream()
                    .collect(Collectors.toMap(TopicAdmin.TopicInfo::name, TopicAdmin.TopicInfo::partitions));
            assertEquals(names.stream().sorted().toList(), partitions.keySet().stream().sorted().toList());
            assertTrue(partitions.values().stream().allMatch(p -> p == PARTITIONS), partitions.toString());
        }
    }

    @Test
    @Order(5)
    void moreReplicasThanBrokersIsAClearErrorNotACrash() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = ExpertcastCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        // Every topic exists, so nothing is created; a fresh name would be refused by the broker.
        int code = cli.execute("topics", "create", "--bootstrap", broker.bootstrapServers(), "--replication-factor", "3");
        assertEquals(0, code, err.toString());
        assertTrue(out.toString().contains("0 created, " + Topics.ALL.size() + " existing"), out.toString());
        try (TopicAdmin admin = new TopicAdmin(broker.bootstrapServers(), Duration.ofSeconds(30))) {
            Topic<String, String> fresh = new Topic<>("test.fresh", null, null, false);
            var e = assertThrows(io.expertcast.local.TopicAdminException.class,
                    () -> admin.createAll(List.of(fresh), 1, (short) 3));
            assertTrue(e.getMessage().contains("create test.fresh failed"), e.getMessage());
        }
    }

    @Test
    @Order(6)
    void stopEndsTheProcessAndRemovesThePidFile() {
        assertEquals(pid, broker.stop(Duration.ofSeconds(20)).getAsLong());
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "broker process gone");
        assertFalse(Files.exists(broker.pidFile()));
        LocalBroker.Status status = broker.status(Duration.ofSeconds(2));
        assertFalse(status.running());
        assertFalse(status.answers());
        assertTrue(broker.stop(Duration.ofSeconds(1)).isEmpty(), "a second stop finds nothing to stop");
    }

    private static String port() {
        return broker.bootstrapServers().substring(broker.bootstrapServers().lastIndexOf(':') + 1);
    }

    private static int run(StringWriter out, String... args) {
        CommandLine cli = ExpertcastCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(out, true));
        return cli.execute(args);
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
