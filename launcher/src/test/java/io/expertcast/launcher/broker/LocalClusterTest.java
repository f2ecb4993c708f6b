package io.expertcast.launcher.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.launcher.ExpertcastCommand;
import io.expertcast.schemas.Topics;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code broker start --nodes 3}: three kafka.Kafka child JVMs form one KRaft cluster; {@code topics
 * create} then gives every topic 3 replicas and min.insync.replicas 2; {@code broker status} and
 * {@code broker stop} find the cluster from the work dir alone.
 */
@Tag("slow")
class LocalClusterTest {
    @TempDir
    Path work;

    @Test
    void threeNodesStartAndTopicsGetThreeReplicasAndMinIsrTwo() throws Exception {
        int port = freeRange(6);
        StringWriter out = new StringWriter();
        try {
            int code = run(out, "broker", "start", "--nodes", "3", "--work-dir", work.toString(), "--port",
                    Integer.toString(port), "--controller-port", Integer.toString(port + 1), "--timeout", "180");
            assertEquals(0, code, out.toString());
            String bootstrap = "127.0.0.1:" + port + ",127.0.0.1:" + (port + 2) + ",127.0.0.1:" + (port + 4);
            assertTrue(out.toString().contains("bootstrap " + bootstrap), out.toString());

            code = run(out, "topics", "create", "--bootstrap", "127.0.0.1:" + (port + 2), "--partitions", "2");
            assertEquals(0, code, out.toString());
            assertTrue(out.toString().contains("replication factor 3, min.insync.replicas 2"), out.toString());
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
                Map<String, TopicDescription> topics = admin.describeTopics(List.of(Topics.SELECTIONS.name(),
                        Topics.PLACEMENT.name())).allTopicNames().get();
                topics.values().forEach(t -> t.partitions().forEach(p -> assertEquals(3, p.replicas().size(), t.name())));
                ConfigResource selections = new ConfigResource(ConfigResource.Type.TOPIC, Topics.SELECTIONS.name());
                assertEquals("2", admin.describeConfigs(List.of(selections)).all().get().get(selections)
                        .get("min.insync.replicas").value());
                assertEquals(3, admin.describeCluster().nodes().get().size());
            }

            StringWriter status = new StringWriter();
            assertEquals(0, run(status, "broker", "status", "--work-dir", work.toString()), status.toString());
            assertTrue(status.toString().contains("3 of 3 nodes running, 3 answer"), status.toString());
        } finally {
            StringWriter stop = new StringWriter();
            run(stop, "broker", "stop", "--work-dir", work.toString());
            assertTrue(stop.toString().contains("cluster stopped"), stop.toString());
        }
        StringWriter status = new StringWriter();
        assertEquals(3, run(status, "broker", "status", "--work-dir", work.toString()), status.toString());
        assertFalse(status.toString().contains("answers"), status.toString());
    }

    private static int run(StringWriter out, String... args) {
        CommandLine cli = ExpertcastCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(out, true));
        return cli.execute(args);
    }

    /** A base port whose next {@code count} ports are all free on the loopback. */
    private static int freeRange(int count) throws IOException {
        for (int attempt = 0; attempt < 200; attempt++) {
            int base = ThreadLocalRandom.current().nextInt(20_000, 60_000);
            boolean free = true;
            for (int p = base; p < base + count && free; p++) {
                try (ServerSocket s = new ServerSocket()) {
                    s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), p));
                } catch (IOException e) {
                    free = false;
                }
            }
            if (free) {
                return base;
            }
        }
        throw new IOException("no " + count + " consecutive free ports");
    }
}
