package io.expertcast.streams;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KafkaStreams;

/** Runs a started Kafka Streams application as a service: until Ctrl-C (exit 0) or a failure (exit 1). */
public final class StreamsService {
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

    private StreamsService() {
    }

    /**
     * Blocks until the JVM is asked to stop (the shutdown hook closes the streams cleanly, committing
     * what was processed) or the application leaves the running states on its own.
     *
     * @return the process exit code: 0 after Ctrl-C, 1 when the streams failed or stopped by themselves
     */
    public static int runUntilStopped(KafkaStreams streams, String name) throws InterruptedException {
        return runUntilStopped(streams, name, BrokerWatch.of(streams, name, null));
    }

    /** As above, sampling {@code brokers} every second (a line when the brokers are lost and when back). */
    public static int runUntilStopped(KafkaStreams streams, String name, BrokerWatch brokers)
            throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            streams.close(CLOSE_TIMEOUT);
            stopped.countDown();
        }, name + "-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        // The instance is already started (a state listener can only be set before start): poll its state.
        while (!stopped.await(1, TimeUnit.SECONDS)) {
            KafkaStreams.State state = streams.state();
            if (state == KafkaStreams.State.RUNNING || state == KafkaStreams.State.REBALANCING) {
                brokers.sample(System.currentTimeMillis());
            }
            if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.PENDING_ERROR
                    || state == KafkaStreams.State.NOT_RUNNING || state == KafkaStreams.State.PENDING_SHUTDOWN) {
                System.err.println(name + ": streams stopped in state " + state);
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    return 0; // Ctrl-C arrived meanwhile: the hook is closing the streams
                }
                streams.close(CLOSE_TIMEOUT);
                return 1;
            }
        }
        return 0;
    }
}
