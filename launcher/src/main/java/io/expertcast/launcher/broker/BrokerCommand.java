package io.expertcast.launcher.broker;

import io.expertcast.local.WorkDir;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import io.expertcast.local.LocalBroker;
import io.expertcast.local.LocalBrokerException;
import io.expertcast.local.LocalCluster;

/**
 * {@code expertcast broker start|stop|status}: the local single-node KRaft broker ({@link LocalBroker}),
 * or with {@code --nodes N} a local cluster of N ({@link LocalCluster}; 3: replication factor 3, min ISR 2).
 */
@Command(name = "broker", mixinStandardHelpOptions = true,
        description = "Start, stop or inspect the local KRaft broker, or with --nodes 3 a local cluster of 3 "
                + "(replication factor 3, min ISR 2) (127.0.0.1 only).",
        subcommands = {BrokerCommand.Start.class, BrokerCommand.Stop.class, BrokerCommand.StatusCommand.class})
public final class BrokerCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
    }

    /** Options every broker subcommand shares: they locate the broker and its ports. */
    static final class Location {
        private static final int[] DEFAULT_PORTS = {9092, 9093};

        @Option(names = "--port", description = "Client (PLAINTEXT) port. Default: 9092 for start; for stop and "
                + "status, the port the last start recorded in <work-dir>/broker/server.properties.")
        Integer port;

        @Option(names = "--controller-port", description = "KRaft controller port. Default: 9093 (stop and status: "
                + "as recorded).")
        Integer controllerPort;

        @Option(names = "--work-dir", description = "Work directory; the broker lives in <work-dir>/broker. "
                + "Default: $EXPERTCAST_HOME/work.")
        Path workDir;

        @Option(names = "--nodes", description = "Nodes of a local cluster (each a broker and a controller, in "
                + "<work-dir>/broker-cluster/node-<i>, client port --port + 2(i-1), controller port "
                + "--controller-port + 2(i-1)); 3 gives replication factor 3 and min ISR 2. Default: 1 (the single "
                + "broker) for start; for stop and status, the cluster a start recorded, if any.")
        Integer nodes;

        /** The cluster of --nodes (> 1), else for stop/status ({@code useRecorded}) the one recorded, else null. */
        LocalCluster cluster(boolean useRecorded) {
            Path dir = workDir != null ? workDir : WorkDir.defaultPath();
            int[] recorded = useRecorded ? LocalCluster.recorded(dir).orElse(null) : null;
            int n = nodes != null ? nodes : recorded != null ? recorded[0] : 1;
            if (n <= 1) {
                return null;
            }
            int[] ports = recorded != null ? new int[] {recorded[1], recorded[2]} : DEFAULT_PORTS;
            return new LocalCluster(dir, n, port != null ? port : ports[0],
                    controllerPort != null ? controllerPort : ports[1], System.getProperty("java.class.path"),
                    jvmOptions());
        }

        private static List<String> jvmOptions() {
            List<String> jvm = new ArrayList<>(List.of("-Xms128m", "-Xmx512m"));
            String extra = System.getenv("EXPERTCAST_BROKER_JAVA_OPTS");
            if (extra != null && !extra.isBlank()) {
                jvm.addAll(Arrays.asList(extra.trim().split("\\s+")));
            }
            return jvm;
        }

        /** The broker with the given ports, else (if {@code useRecordedPorts}) the recorded ones, else 9092/9093. */
        LocalBroker broker(boolean useRecordedPorts) {
            Path dir = workDir != null ? workDir : WorkDir.defaultPath();
            int[] recorded = useRecordedPorts ? LocalBroker.recordedPorts(dir).orElse(DEFAULT_PORTS) : DEFAULT_PORTS;
            List<String> jvm = new ArrayList<>(List.of("-Xms128m", "-Xmx512m"));
            String extra = System.getenv("EXPERTCAST_BROKER_JAVA_OPTS");
            if (extra != null && !extra.isBlank()) {
                jvm.addAll(Arrays.asList(extra.trim().split("\\s+")));
            }
            return new LocalBroker(dir, port != null ? port : recorded[0],
                    controllerPort != null ? controllerPort : recorded[1], System.getProperty("java.class.path"), jvm);
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true,
            description = "Format the storage once (fixed cluster id), start the broker in the background and "
                    + "wait until it answers. Log: <work-dir>/broker/broker.log.")
    static final class Start implements Callable<Integer> {
        @Mixin
        Location location;
        @Spec
        CommandSpec spec;
        @Option(names = "--timeout", defaultValue = "60",
                description = "Seconds to wait for the broker to answer. Default: ${DEFAULT-VALUE}.")
        int timeoutSeconds;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            if (timeoutSeconds < 1) {
                err.println("broker start: --timeout must be at least 1 second, got " + timeoutSeconds);
                return 2;
            }
            try {
                LocalCluster cluster = location.cluster(false);
                if (cluster != null) {
                    long started = System.nanoTime();
                    List<Long> pids = cluster.start(Duration.ofSeconds(timeoutSeconds));
                    out.printf("cluster of %d started: pids %s, bootstrap %s, cluster id %s, ready in %.1f s%n",
                            pids.size(), pids, cluster.bootstrapServers(), LocalBroker.CLUSTER_ID,
                            (System.nanoTime() - started) / 1e9);
                    out.printf("replication: default.replication.factor=%d, min.insync.replicas=%d (create topics "
                            + "with `expertcast topics create --bootstrap %s`)%n", Math.min(3, pids.size()),
                            pids.size() >= 3 ? 2 : 1, cluster.bootstrapServers());
                    out.printf("logs: %s/node-*/broker.log%n", LocalCluster.clusterDir(
                            location.workDir != null ? location.workDir : WorkDir.defaultPath()));
                    return 0;
                }
                LocalBroker broker = location.broker(false);
                long started = System.nanoTime();
                long pid = broker.start(Duration.ofSeconds(timeoutSeconds));
                out.printf("broker started: pid %d, bootstrap %s, cluster id %s, ready in %.1f s%n", pid,
                        broker.bootstrapServers(), LocalBroker.CLUSTER_ID, (System.nanoTime() - started) / 1e9);
                out.printf("log: %s%n", broker.logFile());
                if (location.workDir == null) {
                    out.printf("the other commands find this broker without --bootstrap (recorded in %s)%n",
                            broker.propertiesFile());
                }
                return 0;
            } catch (LocalBrokerException | IllegalArgumentException e) {
                err.println("broker start: " + e.getMessage());
                return 1;
            }
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true,
            description = "Stop the broker named by <work-dir>/broker/broker.pid (SIGTERM, then a forced kill "
                    + "after 20 s).")
    static final class Stop implements Callable<Integer> {
        @Mixin
        Location location;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            LocalCluster cluster = location.cluster(true);
            if (cluster != null) {
                List<Long> pids = cluster.stop(Duration.ofSeconds(20));
                spec.commandLine().getOut().println(pids.isEmpty() ? "cluster not running"
                        : "cluster stopped: pids " + pids);
                return 0;
            }
            LocalBroker broker = location.broker(true);
            OptionalLong pid = broker.stop(Duration.ofSeconds(20));
            spec.commandLine().getOut().println(pid.isPresent() ? "broker stopped: pid " + pid.getAsLong()
                    : "broker not running (no live broker in " + broker.pidFile() + ")");
            return 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Whether the broker runs and answers. Exit code 0: answers, 1: runs but does not answer, "
                    + "3: not running.")
    static final class StatusCommand implements Callable<Integer> {
        @Mixin
        Location location;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LocalCluster cluster = location.cluster(true);
            if (cluster != null) {
                int running = 0;
                int answering = 0;
                for (LocalBroker node : cluster.nodes()) {
                    LocalBroker.Status st = node.status(Duration.ofSeconds(5));
                    running += st.running() ? 1 : 0;
                    answering += st.answers() ? 1 : 0;
                    out.printf("node at %s: %s%n", node.bootstrapServers(), !st.running() ? "not running"
                            : st.answers() ? "running (pid " + st.pid().getAsLong() + "), answers"
                            : "running (pid " + st.pid().getAsLong() + "), does not answer");
                }
                out.printf("cluster: %d of %d nodes running, %d answer%n", running, cluster.nodes().size(), answering);
                return running == 0 ? 3 : answering == cluster.nodes().size() ? 0 : 1;
            }
            LocalBroker broker = location.broker(true);
            LocalBroker.Status status = broker.status(Duration.ofSeconds(5));
            if (!status.running()) {
                out.println("broker not running");
                return 3;
            }
            if (status.answers()) {
                out.printf("broker running: pid %d, answers at %s, cluster id %s%n", status.pid().getAsLong(),
                        broker.bootstrapServers(), status.clusterId().get());
                return 0;
            }
            out.printf("broker running: pid %d, but does not answer at %s (see %s)%n", status.pid().getAsLong(),
                    broker.bootstrapServers(), broker.logFile());
            return 1;
        }
    }
}
