package io.expertcast.streams;

import io.expertcast.streams.metrics.ServiceMetrics;
import io.micrometer.core.instrument.Counter;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way an expertcast Kafka Streams service is built, run and stopped (predictor, allocator,
 * emulator): a stage gives its topology and properties; this adds what every stage does alike.
 * <ul>
 *   <li>the uncaught-exception handler of {@link StreamThreadFailures} (a thread that lost its transaction
 *       to the cluster is replaced; any other failure shuts the client down), each decision counted in
 *       {@code expertcast_stream_thread_failures_total{decision}};</li>
 *   <li>a state listener: one line when the service first runs, one when it fails (routine rebalances at DEBUG);</li>
 *   <li>the service's {@link ServiceMetrics} bound to the application's Kafka metrics;</li>
 *   <li>{@link #health()} from the state, which {@code /health} answers;</li>
 *   <li>{@link #runUntilStopped}: until SIGTERM / Ctrl-C (a clean close, bounded by {@link #CLOSE_TIMEOUT},
 *       exit 0) or until the application stops by itself (exit 1).</li>
 * </ul>
 */
public final class StreamsService implements AutoCloseable {
    /** How long a close may wait for the last commit and the threads to end (SIGTERM, Ctrl-C, a test). */
    public static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);
    private static final Logger LOG = LoggerFactory.getLogger(StreamsService.class);

    private final String name;
    private final KafkaStreams streams;
    private final String bootstrap;
    private final Map<StreamThreadExceptionResponse, AtomicLong> threadFailures = new ConcurrentHashMap<>();
    private final AtomicBoolean runningOnce = new AtomicBoolean();

    private StreamsService(String name, KafkaStreams streams, String bootstrap) {
        this.name = name;
        this.streams = streams;
        this.bootstrap = bootstrap;
    }

    /**
     * Builds (does not start) the service {@code name} from what {@code topology} adds to a builder
     * made with {@code props} (so its optimizations apply), with the handler, state listener and
     * {@code metrics} (may be null) in place.
     */
    public static StreamsService create(String name, Properties props, Consumer<StreamsBuilder> topology,
                                        ServiceMetrics metrics) {
        StreamsBuilder builder = new StreamsBuilder();
        topology.accept(builder);
        return create(name, builder.build(props), props, metrics);
    }

    /** As above, for a topology already built. */
    public static StreamsService create(String name, Topology topology, Properties props, ServiceMetrics metrics) {
        KafkaStreams streams = new KafkaStreams(topology, props);
        Object servers = props.get(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG);
        StreamsService service = new StreamsService(name, streams, servers == null ? null : servers.toString());
        StreamsUncaughtExceptionHandler decide = StreamThreadFailures.handler(name, LOG);
        Map<StreamThreadExceptionResponse, Counter> counters = new EnumMap<>(StreamThreadExceptionResponse.class);
        if (metrics != null) {
            for (StreamThreadExceptionResponse r : StreamThreadExceptionResponse.values()) {
                counters.put(r, Counter.builder("expertcast.stream.thread.failures")
                        .description("Stream threads that died, by what was done: REPLACE_THREAD (the cluster took its "
                                + "transaction; it resumes from the last commit) or SHUTDOWN_CLIENT (a bug; the service "
                                + "stops); StreamThreadFailures never answers SHUTDOWN_APPLICATION")
                        .tag("decision", r.name()).register(metrics.registry()));
            }
            metrics.bind(streams);
        }
        streams.setUncaughtExceptionHandler(e -> {
            StreamThreadExceptionResponse decision = decide.handle(e);
            service.threadFailures.computeIfAbsent(decision, d -> new AtomicLong()).incrementAndGet();
            Counter counter = counters.get(decision);
            if (counter != null) {
                counter.increment();
            }
            return decision;
        });
        streams.setStateListener((now, before) -> service.logTransition(before, now));
        return service;
    }

    /** Routine changes (rebalances, the close) at DEBUG; the first RUNNING at INFO; a failure at WARN/ERROR. */
    private void logTransition(KafkaStreams.State before, KafkaStreams.State now) {
        switch (now) {
            case RUNNING -> {
                if (!runningOnce.getAndSet(true)) {
                    LOG.info("{}: running (partitions assigned, state restored)", name);
                } else {
                    LOG.debug("{}: Kafka Streams {} -> {}", name, before, now);
                }
            }
            case PENDING_ERROR -> LOG.warn("{}: Kafka Streams is shutting down after a failure ({} -> {})", name,
                    before, now);
            case ERROR -> LOG.error("{}: Kafka Streams is in state ERROR (a stream thread failed, see above); "
                    + "the service stops", name);
            default -> LOG.debug("{}: Kafka Streams {} -> {}", name, before, now);
        }
    }

    /** Starts the application (its threads join the group and restore state in the background). */
    public StreamsService start() {
        streams.start();
        return this;
    }

    public String name() {
        return name;
    }

    /** The application, for interactive queries, tests and the demo. */
    public KafkaStreams streams() {
        return streams;
    }

    /** How many stream threads died so far, by the handler's decision (replaced, or the client shut down). */
    public Map<StreamThreadExceptionResponse, Long> threadFailures() {
        Map<StreamThreadExceptionResponse, Long> counts = new EnumMap<>(StreamThreadExceptionResponse.class);
        threadFailures.forEach((decision, n) -> counts.put(decision, n.get()));
        return counts;
    }

    /** What {@code /health} answers now. */
    public Health health() {
        return Health.of(streams);
    }

    /**
     * Blocks until the JVM is asked to stop (SIGTERM, Ctrl-C: the shutdown hook closes the application,
     * committing what was processed, within {@link #CLOSE_TIMEOUT}) or the application leaves the running
     * states by itself. Samples the brokers every second, so an outage is one line and its end another.
     *
     * @return the exit code: 0 after SIGTERM/Ctrl-C, 1 when the application stopped or failed by itself
     */
    public int runUntilStopped() throws InterruptedException {
        return runUntilStopped(BrokerWatch.of(streams, name, bootstrap));
    }

    /** As above, sampling {@code brokers}. */
    public int runUntilStopped(BrokerWatch brokers) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean signalled = new AtomicBoolean();
        Thread hook = new Thread(() -> {
            signalled.set(true);
            LOG.info("{}: stopping (signal): closing Kafka Streams, committing what was processed", name);
            closeBounded();
            stopped.countDown();
        }, name + "-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        // Polled rather than waited on: the same loop samples the brokers.
        while (!stopped.await(1, TimeUnit.SECONDS)) {
            Health health = health();
            if (health.ready() || health.state().equals(KafkaStreams.State.REBALANCING.name())) {
                brokers.sample(System.currentTimeMillis());
            }
            if (signalled.get()) {
                continue; // the hook is closing the application (PENDING_SHUTDOWN is its doing)
            }
            if (!health.live() || health.state().equals(KafkaStreams.State.PENDING_SHUTDOWN.name())) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    continue; // a signal arrived meanwhile: the hook is closing the application
                }
                LOG.error("{}: Kafka Streams stopped by itself in state {}; exiting with status 1", name, health.state());
                closeBounded();
                return 1;
            }
        }
        return 0;
    }

    private void closeBounded() {
        if (!streams.close(CLOSE_TIMEOUT)) {
            LOG.warn("{}: Kafka Streams did not close within {} s; what was not committed is processed again at the "
                    + "next start", name, CLOSE_TIMEOUT.toSeconds());
        }
    }

    /** Closes the application, waiting at most {@link #CLOSE_TIMEOUT}. */
    @Override
    public void close() {
        closeBounded();
    }

    /**
     * Readiness and liveness from the application's state: ready only while RUNNING; live unless it
     * stopped or failed (ERROR, PENDING_ERROR, NOT_RUNNING). An application not built yet (null) is live
     * and not ready, in state {@code NOT_BUILT}.
     */
    public record Health(boolean ready, boolean live, String state) {
        public static Health of(KafkaStreams streams) {
            if (streams == null) {
                return new Health(false, true, "NOT_BUILT");
            }
            KafkaStreams.State state = streams.state();
            boolean live = state != KafkaStreams.State.ERROR && state != KafkaStreams.State.PENDING_ERROR
                    && state != KafkaStreams.State.NOT_RUNNING;
            return new Health(state == KafkaStreams.State.RUNNING, live, state.name());
        }
    }
}
