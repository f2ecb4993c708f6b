package io.expertcast.local;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;

/**
 * A real single-node KRaft broker (combined broker + controller) from the kafka_2.13 jars, run as a
 * separate background JVM ({@code kafka.Kafka server.properties}) so it outlives the command that
 * started it. Everything lives under {@code <work>/broker}: server.properties, data/, broker.log and
 * broker.pid. Binds to 127.0.0.1 only. The storage is formatted once with the fixed
 * {@link #CLUSTER_ID}, so a restart keeps topics and offsets.
 */
public final class LocalBroker {

    /** Fixed cluster id (base64url of "expertcast-local"): restarts and re-formats agree on it. */
    public static final String CLUSTER_ID = "ZXhwZXJ0Y2FzdC1sb2NhbA";
    /** Node id of the single combined broker/controller. */
    public static final int NODE_ID = 1;
    private static final String HOST = "127.0.0.1";
    private static final Duration POLL = Duration.ofMillis(250);

    private final Path brokerDir;
    private final int port;
    private final int controllerPort;
    private final String classpath;
    private final List<String> jvmOptions;
    private final int nodeId;
    /** controller.quorum.voters: this node alone, or every node of a {@link LocalCluster}. */
    private final String voters;
    private final int clusterSize;
    private final Security security;

    /**
     * A secured broker: server properties that replace the defaults (listeners, TLS, SASL), SCRAM
     * credentials created when the storage is formatted ({@code SCRAM-SHA-256=[name=u,password=p]}, as
     * kafka-storage's --add-scram takes them), and the client properties this class's own readiness and
     * status checks need to reach it.
     */
    public record Security(Map<String, String> serverProperties, List<String> scramCredentials,
                           Map<String, Object> clientProperties) {
        public static final Security NONE = new Security(Map.of(), List.of(), Map.of());

        public Security {
            serverProperties = Map.copyOf(serverProperties);
            scramCredentials = List.copyOf(scramCredentials);
            clientProperties = Map.copyOf(clientProperties);
        }
    }

    /**
     * @param workDir        the project's work directory; the broker uses {@code workDir/broker}
     * @param port           client port (PLAINTEXT listener)
     * @param controllerPort KRaft controller port
     * @param classpath      classpath of the child JVM; must hold the kafka_2.13 jars and an slf4j binding
     * @param jvmOptions     extra options of the child JVM (heap etc.)
     */
    public LocalBroker(Path workDir, int port, int controllerPort, String classpath, List<String> jvmOptions) {
        this(workDir, port, controllerPort, classpath, jvmOptions, Security.NONE);
    }

    /** As above, secured as {@code security} says. */
    public LocalBroker(Path workDir, int port, int controllerPort, String classpath, List<String> jvmOptions,
                       Security security) {
        this(workDir.toAbsolutePath().normalize().resolve("broker"), port, controllerPort, classpath,
                jvmOptions, NODE_ID, NODE_ID + "@" + HOST + ":" + controllerPort, 1, security);
    }

    /** One node of a {@link LocalCluster}: its own dir, node id and the cluster's voters. */
    LocalBroker(Path brokerDir, int port, int controllerPort, String classpath, List<String> jvmOptions,
                int nodeId, String voters, int clusterSize) {
        this(brokerDir, port, controllerPort, classpath, jvmOptions, nodeId, voters, clusterSize, Security.NONE);
    }

    private LocalBroker(Path brokerDir, int port, int controllerPort, String classpath, List<String> jvmOptions,
                        int nodeId, String voters, int clusterSize, Security security) {
        if (port < 1 || port > 65535 || controllerPort < 1 || controllerPort > 65535) {
            throw new IllegalArgumentException("ports must be in 1..65535, got " + port + " and " + controllerPort);
        }
        if (port == controllerPort) {
            throw new IllegalArgumentException("the client port and the controller port must differ: " + port);
        }
        this.brokerDir = brokerDir.toAbsolutePath().normalize();
        this.nodeId = nodeId;
        this.voters = voters;
        this.clusterSize = clusterSize;
        this.port = port;
        this.controllerPort = controllerPort;
        this.classpath = classpath;
        this.jvmOptions = List.copyOf(jvmOptions);
        this.security = security;
    }

    /** A broker whose child JVM reuses this JVM's classpath (the launcher's, which holds the Kafka jars). */
    public static LocalBroker withCurrentClasspath(Path workDir, int port, int controllerPort) {
        return new LocalBroker(workDir, port, controllerPort, System.getProperty("java.class.path"),
                List.of("-Xms128m", "-Xmx512m"));
    }

    public String bootstrapServers() {
        return HOST + ":" + port;
    }

    public Path brokerDir() {
        return brokerDir;
    }

    public int port() {
        return port;
    }

    public int controllerPort() {
        return controllerPort;
    }

    public Path dataDir() {
        return brokerDir().resolve("data");
    }

    public Path propertiesFile() {
        return brokerDir().resolve("server.properties");
    }

    public Path logFile() {
        return brokerDir().resolve("broker.log");
    }

    public Path pidFile() {
        return brokerDir().resolve("broker.pid");
    }

    /**
     * Writes server.properties, formats the storage if it never was, launches the child JVM and waits
     * until the broker answers an Admin describeCluster.
     *
     * @return the child's PID
     * @throws LocalBrokerException if a broker of this work dir already runs, a port is taken, or the
     *                              broker does not answer within {@code timeout} (it is then stopped;
     *                              the message carries the log's tail)
     */
    public long start(Duration timeout) {
        requireStartable();
        Process process = prepareAndLaunch();
        try {
            awaitAnswer(process, timeout);
            return process.pid();
        } catch (RuntimeException e) {
            abandon(process);
            throw e;
        }
    }

    /** Throws unless this node can start: not running already, both ports free. */
    void requireStartable() {
        requireNotRunning();
        requirePortFree(port, "client");
        requirePortFree(controllerPort, "controller");
    }

    /** Writes server.properties, formats once, launches the child JVM and records its PID (does not wait). */
    Process prepareAndLaunch() {
        try {
            Files.createDirectories(dataDir());
            writeProperties();
            formatStorageIfNeeded();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + brokerDir(), e);
        }
        Process process = launch();
        try {
            Files.writeString(pidFile(), Long.toString(process.pid()) + System.lineSeparator());
        } catch (IOException e) {
            abandon(process);
            throw new LocalBrokerException("broker start failed: " + e, e);
        }
        return process;
    }

    /** Stops a node that failed to start and forgets its PID. */
    void abandon(Process process) {
        destroy(process.toHandle(), Duration.ofSeconds(20));
        deletePidFile();
    }

    /**
     * Stops the broker named by the PID file: SIGTERM (Kafka's controlled shutdown), then a forced
     * kill if it has not exited within {@code grace}. Never kills by name.
     *
     * @return the stopped PID, or empty if no broker of this work dir was running
     */
    public OptionalLong stop(Duration grace) {
        OptionalLong pid = runningPid();
        if (pid.isPresent()) {
            ProcessHandle.of(pid.getAsLong()).ifPresent(handle -> destroy(handle, grace));
        }
        deletePidFile();
        return pid;
    }

    /** Whether a broker of this work dir runs (PID file names a live broker JVM) and whether it answers. */
    public Status status(Duration answerTimeout) {
        OptionalLong pid = runningPid();
        Optional<String> clusterId = pid.isPresent() ? describeCluster(bootstrapServers(), security.clientProperties(),
                answerTimeout)
                : Optional.empty();
        return new Status(pid, clusterId);
    }

    /**
     * The PID from the PID file if that process is alive and is this work dir's broker. A PID file left
     * by a crash, whose number the OS may have reused for another program, yields empty.
     */
    /**
     * Throws if a broker of this work dir runs: a command that wipes its work dir for a fresh broker (the
     * demo, {@code bench predictor}) calls it first, or it would delete a running broker's data and state
     * and only then fail on the taken port.
     */
    public void requireNotRunning() {
        OptionalLong running = runningPid();
        if (running.isPresent()) {
            throw new LocalBrokerException("a broker already runs from " + brokerDir() + " (pid "
                    + running.getAsLong() + "); another run uses this work dir: wait for it, stop it, or choose "
                    + "another --work-dir");
        }
    }

    public OptionalLong runningPid() {
        if (!Files.isRegularFile(pidFile())) {
            return OptionalLong.empty();
        }
        long pid;
        try {
            pid = Long.parseLong(Files.readString(pidFile()).trim());
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty() || !handle.get().isAlive()) {
            return OptionalLong.empty();
        }
        // commandLine() is available on Linux; where it is not, trust the PID file.
        Optional<String> commandLine = handle.get().info().commandLine();
        if (commandLine.isPresent() && !commandLine.get().contains(ownerMarker())) {
            return OptionalLong.empty();
        }
        return OptionalLong.of(pid);
    }

    /**
     * Asks {@code bootstrap} for its cluster; answers the cluster id if a broker replies with at least
     * one live node within {@code timeout}.
     */
    public static Optional<String> describeCluster(String bootstrap, Duration timeout) {
        return describeCluster(bootstrap, Map.of(), timeout);
    }

    /** As above, with client properties (TLS, SASL). */
    public static Optional<String> describeCluster(String bootstrap, Map<String, ?> clientProperties, Duration timeout) {
        int millis = (int) Math.max(1000, timeout.toMillis());
        Properties config = new Properties();
        config.putAll(clientProperties);
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, millis);
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, millis);
        config.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        try (Admin admin = Admin.create(config)) {
            DescribeClusterResult cluster = admin.describeCluster(new DescribeClusterOptions().timeoutMs(millis));
            Collection<Node> nodes = cluster.nodes().get(millis, TimeUnit.MILLISECONDS);
            if (nodes.isEmpty()) {
                return Optional.empty();
            }
            return Optional.ofNullable(cluster.clusterId().get(millis, TimeUnit.MILLISECONDS));
        } catch (ExecutionException | TimeoutException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /** The last {@code lines} lines of broker.log, for error messages. */
    public String logTail(int lines) {
        try {
            if (!Files.isRegularFile(logFile())) {
                return "(no " + logFile() + ")";
            }
            List<String> all = Files.readAllLines(logFile(), StandardCharsets.UTF_8);
            return String.join(System.lineSeparator(), all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(cannot read " + logFile() + ": " + e.getMessage() + ")";
        }
    }

    /**
     * The client and controller ports of the server.properties a previous start wrote under
     * {@code workDir}, so status and stop find a broker started on non-default ports.
     *
     * @return {@code [port, controllerPort]}, or empty if there is no readable file
     */
    public static Optional<int[]> recordedPorts(Path workDir) {
        Path file = workDir.toAbsolutePath().resolve("broker").resolve("server.properties");
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (var in = Files.newInputStream(file)) {
            p.load(in);
            String advertised = p.getProperty("advertised.listeners", "");
            String voters = p.getProperty("controller.quorum.voters", "");
            int port = Integer.parseInt(advertised.substring(advertised.lastIndexOf(':') + 1).trim());
            int controllerPort = Integer.parseInt(voters.substring(voters.lastIndexOf(':') + 1).trim());
            return Optional.of(new int[] {port, controllerPort});
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** A system property on the child's command line naming its broker dir. */
    private String ownerMarker() {
        return "-Dexpertcast.broker.dir=" + brokerDir();
    }

    /**
     * The broker configuration: a combined broker + controller node, loopback only. Alone, internal
     * topics get one replica; in a cluster of 3 or more, new topics and the internal ones get 3 replicas
     * and need 2 in sync to accept a write (one node may be lost without losing a committed record).
     */
    Properties serverProperties() {
        Properties p = new Properties();
        p.setProperty("process.roles", "broker,controller");
        p.setProperty("node.id", Integer.toString(nodeId));
        p.setProperty("listeners", "PLAINTEXT://" + HOST + ":" + port + ",CONTROLLER://" + HOST + ":" + controllerPort);
        p.setProperty("advertised.listeners", "PLAINTEXT://" + HOST + ":" + port);
        p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.setProperty("inter.broker.listener.name", "PLAINTEXT");
        p.setProperty("controller.listener.names", "CONTROLLER");
        p.setProperty("controller.quorum.voters", voters);
        p.setProperty("log.dirs", dataDir().toString());
        p.setProperty("num.partitions", "4");
        p.setProperty("auto.create.topics.enable", "false");
        // One node: every internal topic gets one replica, or consumers and transactions never start.
        String replicas = Integer.toString(Math.min(3, clusterSize));
        String minIsr = clusterSize >= 3 ? "2" : "1";
        p.setProperty("offsets.topic.replication.factor", replicas);
        p.setProperty("transaction.state.log.replication.factor", replicas);
        p.setProperty("transaction.state.log.min.isr", minIsr);
        p.setProperty("share.coordinator.state.topic.replication.factor", replicas);
        p.setProperty("share.coordinator.state.topic.min.isr", minIsr);
        p.setProperty("default.replication.factor", replicas);
        p.setProperty("min.insync.replicas", minIsr);
        p.setProperty("group.initial.rebalance.delay.ms", "0");
        security.serverProperties().forEach(p::setProperty);
        return p;
    }

    private void writeProperties() throws IOException {
        try (OutputStream out = Files.newOutputStream(propertiesFile())) {
            serverProperties().store(out, "expertcast local broker; rewritten by `expertcast broker start`");
        }
    }

    /** Formats with Kafka's own storage tool, once: a data dir with meta.properties is left alone. */
    private void formatStorageIfNeeded() throws IOException {
        if (Files.exists(dataDir().resolve("meta.properties"))) {
            return;
        }
        try (OutputStream log = Files.newOutputStream(logFile(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
             PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8)) {
            int code;
            try {
                List<String> args = new ArrayList<>(List.of("format", "--cluster-id", CLUSTER_ID, "--config",
                        propertiesFile().toString()));
                for (String credential : security.scramCredentials()) {
                    args.add("--add-scram");
                    args.add(credential);
                }
                code = kafka.tools.StorageTool.execute(args.toArray(String[]::new), out);
            } catch (Exception e) {
                e.printStackTrace(out);
                code = -1;
            }
            if (code != 0) {
                out.flush();
                throw new LocalBrokerException("formatting " + dataDir() + " failed (exit " + code + "):"
                        + System.lineSeparator() + logTail(20));
            }
        }
    }

    private Process launch() {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // First, so it survives the OS truncating long command lines: runningPid() recognises our broker by it.
        command.add(ownerMarker());
        command.addAll(jvmOptions);
        command.add("-Djava.awt.headless=true");
        command.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
        command.add("-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS");
        command.add("kafka.Kafka");
        command.add(propertiesFile().toString());
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(brokerDir().toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        // The classpath goes by environment: a hundred jars on the command line would bury it in `ps`.
        builder.environment().put("CLASSPATH", classpath);
        try {
            return builder.start();
        } catch (IOException e) {
            throw new LocalBrokerException("cannot launch " + command.get(0) + ": " + e.getMessage(), e);
        }
    }

    void awaitAnswer(Process process, Duration timeout) {
        Instant deadline = Instant.now().plus(timeout);
        while (Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                throw new LocalBrokerException("the broker exited with code " + process.exitValue()
                        + "; tail of " + logFile() + ":" + System.lineSeparator() + logTail(30));
            }
            // Probe the socket first: an Admin client against a closed port only logs reconnect warnings.
            if (portAccepts(port) && describeCluster(bootstrapServers(), security.clientProperties(),
                    Duration.ofSeconds(3)).isPresent()) {
                return;
            }
            sleep(POLL);
        }
        throw new LocalBrokerException("the broker did not answer at " + bootstrapServers() + " within "
                + timeout.toSeconds() + " s; tail of " + logFile() + ":" + System.lineSeparator() + logTail(30));
    }

    private static void destroy(ProcessHandle handle, Duration grace) {
        handle.destroy();
        try {
            handle.onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            handle.destroyForcibly();
            handle.onExit().join();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void deletePidFile() {
        try {
            Files.deleteIfExists(pidFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + pidFile(), e);
        }
    }

    private static void requirePortFree(int port, String what) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getByName(HOST), port));
        } catch (IOException e) {
            throw new LocalBrokerException("the " + what + " port " + HOST + ":" + port
                    + " is in use by another program; choose another with --" + (what.equals("client") ? "port" : "controller-port"));
        }
    }

    private static boolean portAccepts(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(HOST, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LocalBrokerException("interrupted while waiting for the broker", e);
        }
    }

    /**
     * What {@link #status} found.
     *
     * @param pid       the broker's PID if its JVM runs
     * @param clusterId the cluster id if it answered
     */
    public record Status(OptionalLong pid, Optional<String> clusterId) {
        public boolean running() {
            return pid.isPresent();
        }

        public boolean answers() {
            return clusterId.isPresent();
        }
    }
}
