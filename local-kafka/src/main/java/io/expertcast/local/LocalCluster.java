package io.expertcast.local;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * A local cluster of N combined KRaft nodes (broker + controller each, N controller voters), each a
 * {@link LocalBroker} child JVM under {@code <work>/broker-cluster/node-<id>}, on 127.0.0.1 only. Node
 * {@code i} (1-based) listens on {@code port + 2(i-1)} and its controller on
 * {@code controllerPort + 2(i-1)}. With 3 nodes, topics get 3 replicas and need 2 in sync
 * ({@code default.replication.factor=3}, {@code min.insync.replicas=2}, internal topics alike): one
 * node may be lost without losing a committed record or stopping writes.
 */
public final class LocalCluster {
    private final List<LocalBroker> nodes;

    public LocalCluster(Path workDir, int nodes, int port, int controllerPort, String classpath,
                        List<String> jvmOptions) {
        if (nodes < 1 || nodes > 9) {
            throw new IllegalArgumentException("a local cluster has 1 to 9 nodes, got " + nodes);
        }
        Set<Integer> ports = new HashSet<>();
        StringBuilder voters = new StringBuilder();
        for (int i = 0; i < nodes; i++) {
            int client = port + 2 * i;
            int controller = controllerPort + 2 * i;
            if (!ports.add(client) || !ports.add(controller) || client > 65535 || controller > 65535) {
                throw new IllegalArgumentException("the " + nodes + " nodes' ports (client " + port + " + 2i, "
                        + "controller " + controllerPort + " + 2i) overlap or exceed 65535; use --controller-port "
                        + (port + 1));
            }
            voters.append(i == 0 ? "" : ",").append(i + 1).append("@127.0.0.1:").append(controller);
        }
        Path root = clusterDir(workDir);
        List<LocalBroker> list = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            list.add(new LocalBroker(root.resolve("node-" + (i + 1)), port + 2 * i, controllerPort + 2 * i,
                    classpath, jvmOptions, i + 1, voters.toString(), nodes));
        }
        this.nodes = List.copyOf(list);
    }

    /** Where the nodes live: {@code <work>/broker-cluster}. */
    public static Path clusterDir(Path workDir) {
        return workDir.toAbsolutePath().normalize().resolve("broker-cluster");
    }

    /** The node count and ports a previous start recorded under {@code workDir}: {@code [nodes, port, controllerPort]}. */
    public static java.util.Optional<int[]> recorded(Path workDir) {
        Path root = clusterDir(workDir);
        int n = 0;
        while (Files.isDirectory(root.resolve("node-" + (n + 1)))) {
            n++;
        }
        if (n == 0) {
            return java.util.Optional.empty();
        }
        int count = n;
        return nodePorts(root.resolve("node-1")).map(p -> new int[] {count, p[0], p[1]});
    }

    private static java.util.Optional<int[]> nodePorts(Path nodeDir) {
        Path file = nodeDir.resolve("server.properties");
        Properties p = new Properties();
        try (var in = Files.newInputStream(file)) {
            p.load(in);
            String advertised = p.getProperty("advertised.listeners", "");
            String listeners = p.getProperty("listeners", "");
            int port = Integer.parseInt(advertised.substring(advertised.lastIndexOf(':') + 1).trim());
            int controllerPort = Integer.parseInt(listeners.substring(listeners.lastIndexOf(':') + 1).trim());
            return java.util.Optional.of(new int[] {port, controllerPort});
        } catch (java.io.IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }

    public List<LocalBroker> nodes() {
        return nodes;
    }

    /** Every node's client address, comma-separated. */
    public String bootstrapServers() {
        return String.join(",", nodes.stream().map(LocalBroker::bootstrapServers).toList());
    }

    /**
     * Formats and launches every node (a node answers only once a majority of controllers runs, so all
     * start before any is awaited), then waits until the cluster reports every node.
     *
     * @return the nodes' PIDs
     */
    public List<Long> start(Duration timeout) {
        for (LocalBroker node : nodes) {
            node.requireStartable();
        }
        List<Process> processes = new ArrayList<>();
        try {
            for (LocalBroker node : nodes) {
                processes.add(node.prepareAndLaunch());
            }
            Instant deadline = Instant.now().plus(timeout);
            for (int i = 0; i < nodes.size(); i++) {
                nodes.get(i).awaitAnswer(processes.get(i), Duration.between(Instant.now(), deadline));
            }
            awaitAllNodes(Duration.between(Instant.now(), deadline));
            return processes.stream().map(Process::pid).toList();
        } catch (RuntimeException e) {
            for (int i = 0; i < processes.size(); i++) {
                nodes.get(i).abandon(processes.get(i));
            }
            throw e;
        }
    }

    private void awaitAllNodes(Duration timeout) {
        Properties config = new Properties();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        Instant deadline = Instant.now().plus(timeout);
        try (Admin admin = Admin.create(config)) {
            while (Instant.now().isBefore(deadline)) {
                try {
                    if (admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size() == nodes.size()) {
                        return;
                    }
                } catch (Exception e) {
                    if (e instanceof InterruptedException) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
                Thread.sleep(250);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        throw new LocalBrokerException("the cluster at " + bootstrapServers() + " did not report its " + nodes.size()
                + " nodes within " + timeout.toSeconds() + " s");
    }

    /** Stops every running node (SIGTERM, then a forced kill after {@code grace}); the stopped PIDs. */
    public List<Long> stop(Duration grace) {
        List<Long> stopped = new ArrayList<>();
        for (LocalBroker node : nodes) {
            OptionalLong pid = node.stop(grace);
            pid.ifPresent(stopped::add);
        }
        return stopped;
    }
}
