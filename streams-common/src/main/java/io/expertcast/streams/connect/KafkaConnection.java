package io.expertcast.streams.connect;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import picocli.CommandLine.Option;

/**
 * The options every command that talks to Kafka shares (a picocli mixin): where the broker is and the
 * client properties it needs (TLS, SASL, timeouts, any Kafka client or Streams setting).
 *
 * <p>The bootstrap servers are, first found: {@code --bootstrap}; {@code bootstrap.servers} of
 * {@code --property} or {@code --config}; the address the local broker {@code bin/expertcast broker start}
 * last started on recorded (its {@code <EXPERTCAST_HOME>/work/broker/server.properties}); 127.0.0.1:9092.
 * So after {@code broker start --port 29592} every command finds that broker without being told.
 */
public final class KafkaConnection {
    /** Where no option, property or recorded local broker says otherwise. */
    public static final String DEFAULT_BOOTSTRAP = "127.0.0.1:9092";
    /** Environment variable naming the repository (or install) root; bin/expertcast exports it. */
    public static final String HOME_ENV = "EXPERTCAST_HOME";
    private static final String BOOTSTRAP_KEY = "bootstrap.servers";

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT[,...]",
            description = "Kafka bootstrap servers. Default: bootstrap.servers of --property/--config, else the local "
                    + "broker `bin/expertcast broker start` last started (recorded in work/broker), else "
                    + DEFAULT_BOOTSTRAP + ".")
    String bootstrap;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Kafka client and Streams properties (security.protocol, ssl.*, sasl.*, or any other "
                    + "client or Streams setting); they win over the command's defaults.")
    Path config;

    @Option(names = "--property", paramLabel = "KEY=VALUE",
            description = "One Kafka client or Streams property (repeatable); wins over --config.")
    Map<String, String> properties = new LinkedHashMap<>();

    @Option(names = "--broker-wait", paramLabel = "SECONDS", defaultValue = "5",
            description = "How long to wait for the broker to accept connections before saying it is not there "
                    + "(default: ${DEFAULT-VALUE}).")
    int brokerWaitSeconds = 5;

    /** Where the work directory is when nothing else says: tests and code built without picocli use this. */
    private Path workDir;

    public KafkaConnection() {
    }

    /** A connection given in code (tests, the demo): these servers and properties. */
    public static KafkaConnection of(String bootstrap, Map<String, String> properties) {
        KafkaConnection c = new KafkaConnection();
        c.bootstrap = bootstrap;
        c.properties.putAll(properties);
        return c;
    }

    /** The same properties and wait, with these bootstrap servers (a command's own address option). */
    public KafkaConnection withBootstrap(String servers) {
        KafkaConnection c = new KafkaConnection();
        c.bootstrap = servers;
        c.config = config;
        c.properties.putAll(properties);
        c.brokerWaitSeconds = brokerWaitSeconds;
        c.workDir = workDir;
        return c;
    }

    /** Reads the recorded local broker from this work directory instead of $EXPERTCAST_HOME/work. */
    public KafkaConnection withWorkDir(Path dir) {
        this.workDir = dir;
        return this;
    }

    /** The bootstrap servers, resolved as the class comment says. */
    public String bootstrap() {
        if (bootstrap != null && !bootstrap.isBlank()) {
            return bootstrap.trim();
        }
        Object configured = clientProperties().get(BOOTSTRAP_KEY);
        if (configured != null && !configured.toString().isBlank()) {
            return configured.toString().trim();
        }
        return recordedLocalBroker(workDir != null ? workDir : defaultWorkDir()).orElse(DEFAULT_BOOTSTRAP);
    }

    /**
     * The servers the user named ({@code --bootstrap}, else {@code bootstrap.servers} of --property/--config),
     * empty when none: for commands that start a broker of their own unless told which to use (demo, bench).
     */
    public Optional<String> givenBootstrap() {
        if (bootstrap != null && !bootstrap.isBlank()) {
            return Optional.of(bootstrap.trim());
        }
        Object configured = clientProperties().get(BOOTSTRAP_KEY);
        return configured == null || configured.toString().isBlank() ? Optional.empty()
                : Optional.of(configured.toString().trim());
    }

    /** Where the bootstrap servers came from, for messages ("no broker at X (recorded by broker start)"). */
    public String bootstrapOrigin() {
        if (bootstrap != null && !bootstrap.isBlank()) {
            return "--bootstrap";
        }
        if (clientProperties().get(BOOTSTRAP_KEY) != null) {
            return properties.containsKey(BOOTSTRAP_KEY) ? "--property" : "--config " + config;
        }
        Path dir = workDir != null ? workDir : defaultWorkDir();
        return recordedLocalBroker(dir).isPresent() ? "recorded by `broker start` in " + serverProperties(dir)
                : "the default";
    }

    /**
     * The properties of {@code --config} then {@code --property}, without {@code bootstrap.servers} overridden:
     * what every Kafka client and Streams application of the command is given on top of its own settings.
     *
     * @throws UncheckedIOException if the --config file cannot be read
     */
    public Map<String, Object> clientProperties() {
        Map<String, Object> all = new LinkedHashMap<>();
        if (config != null) {
            Properties file = new Properties();
            try (InputStream in = Files.newInputStream(config)) {
                file.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read --config " + config + ": " + e.getMessage(), e);
            }
            file.stringPropertyNames().forEach(k -> all.put(k, file.getProperty(k)));
        }
        all.putAll(properties);
        return all;
    }

    /** {@link #clientProperties()} with {@code bootstrap.servers} set to {@link #bootstrap()}. */
    public Map<String, Object> clientPropertiesWithBootstrap() {
        Map<String, Object> all = clientProperties();
        all.put(BOOTSTRAP_KEY, bootstrap());
        return all;
    }

    /** A command's own Streams or client overrides, then {@link #clientProperties()} (which win). */
    public Map<String, Object> overrides(Map<String, ?> commandOverrides) {
        Map<String, Object> all = new LinkedHashMap<>(commandOverrides);
        all.putAll(clientProperties());
        return all;
    }

    /**
     * The connection options to repeat in a command a message suggests ({@code --bootstrap X --config F}),
     * empty when the defaults found the broker. --property values are not repeated (they may hold secrets).
     */
    public String flagsForMessage() {
        StringBuilder flags = new StringBuilder();
        if (bootstrap != null && !bootstrap.isBlank()) {
            flags.append(" --bootstrap ").append(bootstrap.trim());
        }
        if (config != null) {
            flags.append(" --config ").append(config);
        }
        if (!properties.isEmpty()) {
            flags.append(" --property ... (as given here)");
        }
        return flags.toString();
    }

    /** How long the broker may take to accept connections. */
    public Duration brokerWait() {
        return Duration.ofSeconds(Math.max(1, brokerWaitSeconds));
    }

    /** {@code <EXPERTCAST_HOME>/work} (the system property expertcast.home first), or ./work without either. */
    public static Path defaultWorkDir() {
        String home = System.getProperty("expertcast.home", System.getenv(HOME_ENV));
        Path root = home == null || home.isBlank() ? Path.of("") : Path.of(home);
        return root.toAbsolutePath().resolve("work").normalize();
    }

    /**
     * The client address of the broker `broker start` last started from {@code workDir}: the
     * advertised listener of the server.properties it writes (kept after a stop, so a restarted
     * broker is found on the same port).
     */
    public static Optional<String> recordedLocalBroker(Path workDir) {
        Path file = serverProperties(workDir);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            p.load(in);
        } catch (IOException e) {
            return Optional.empty();
        }
        String advertised = p.getProperty("advertised.listeners", "");
        int scheme = advertised.indexOf("://");
        if (scheme < 0) {
            return Optional.empty();
        }
        String address = advertised.substring(scheme + 3);
        int comma = address.indexOf(',');
        return Optional.of(comma < 0 ? address.trim() : address.substring(0, comma).trim());
    }

    private static Path serverProperties(Path workDir) {
        return workDir.resolve("broker").resolve("server.properties");
    }
}
