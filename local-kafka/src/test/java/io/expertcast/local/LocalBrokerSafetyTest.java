package io.expertcast.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the broker launcher must never do (kill a stranger, double-start, bind beyond loopback), without a broker. */
class LocalBrokerSafetyTest {

    @TempDir
    Path work;

    @Test
    void aPidFileNamingAnotherProgramIsStaleAndThatProgramIsNeverKilled() throws IOException {
        LocalBroker broker = LocalBroker.withCurrentClasspath(work, 19_192, 19_193);
        Files.createDirectories(broker.brokerDir());
        // This very JVM is alive but is not a broker of this work dir: stop must leave it alone.
        Files.writeString(broker.pidFile(), Long.toString(ProcessHandle.current().pid()));
        assertTrue(broker.runningPid().isEmpty());
        assertFalse(broker.status(Duration.ofSeconds(1)).running());
        assertTrue(broker.stop(Duration.ofSeconds(1)).isEmpty());
        assertFalse(Files.exists(broker.pidFile()), "stale PID file removed");
    }

    @Test
    void garbageInThePidFileMeansNotRunning() throws IOException {
        LocalBroker broker = LocalBroker.withCurrentClasspath(work, 19_192, 19_193);
        Files.createDirectories(broker.brokerDir());
        Files.writeString(broker.pidFile(), "not a pid");
        assertTrue(broker.runningPid().isEmpty());
    }

    @Test
    void aTakenPortIsRefusedBeforeAnythingIsLaunched() throws IOException {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
            LocalBroker broker = LocalBroker.withCurrentClasspath(work, taken.getLocalPort(), freePort());
            LocalBrokerException e = assertThrows(LocalBrokerException.class, () -> broker.start(Duration.ofSeconds(5)));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            assertFalse(Files.exists(broker.pidFile()));
        }
    }

    @Test
    void aChildThatCannotStartFailsFastWithTheLogTail() throws IOException {
        // A classpath without Kafka: the child JVM exits at once; start must say so, not wait for the timeout.
        LocalBroker broker = new LocalBroker(work, freePort(), freePort(),
                System.getProperty("java.class.path"), List.of("-Xmx64m", "-XX:+NoSuchJvmFlag"));
        long t0 = System.nanoTime();
        LocalBrokerException e = assertThrows(LocalBrokerException.class, () -> broker.start(Duration.ofSeconds(60)));
        assertTrue((System.nanoTime() - t0) / 1e9 < 30, "failed fast");
        assertTrue(e.getMessage().contains("exited with code"), e.getMessage());
        assertTrue(e.getMessage().contains("NoSuchJvmFlag"), "log tail in the message: " + e.getMessage());
        assertFalse(Files.exists(broker.pidFile()));
    }

    @Test
    void configurationBindsLoopbackOnlyWithOneReplicaInternalTopics() {
        Properties p = LocalBroker.withCurrentClasspath(work, 19_192, 19_193).serverProperties();
        assertEquals("PLAINTEXT://127.0.0.1:19192,CONTROLLER://127.0.0.1:19193", p.getProperty("listeners"));
        assertEquals("PLAINTEXT://127.0.0.1:19192", p.getProperty("advertised.listeners"));
        assertEquals("1@127.0.0.1:19193", p.getProperty("controller.quorum.voters"));
        assertEquals("broker,controller", p.getProperty("process.roles"));
        assertEquals("false", p.getProperty("auto.create.topics.enable"));
        for (String key : List.of("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr")) {
            assertEquals("1", p.getProperty(key), key);
        }
        assertEquals(work.resolve("broker/data").toString(), p.getProperty("log.dirs"));
    }

    @Test
    void portsMustBeValidAndDistinct() {
        assertThrows(IllegalArgumentException.class, () -> LocalBroker.withCurrentClasspath(work, 9092, 9092));
        assertThrows(IllegalArgumentException.class, () -> LocalBroker.withCurrentClasspath(work, 0, 9093));
        assertThrows(IllegalArgumentException.class, () -> LocalBroker.withCurrentClasspath(work, 9092, 70_000));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
