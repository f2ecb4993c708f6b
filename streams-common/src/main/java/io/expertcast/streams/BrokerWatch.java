package io.expertcast.streams;

import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says when a service loses the brokers and when it has them back: one line each, from the number of
 * open broker connections of the application's Kafka clients (their {@code connection-count}
 * metrics), sampled by the caller. The Kafka clients' own reconnect warnings are kept quiet by the
 * launcher (they also fire routinely at start-up), so without this an outage logged nothing.
 * Connections may drop briefly in a rebalance: the brokers count as lost only after
 * {@code graceMs} without any connection.
 */
public final class BrokerWatch {
    public static final long DEFAULT_GRACE_MS = 5_000;
    private static final Logger LOG = LoggerFactory.getLogger(BrokerWatch.class);

    private final String name;
    private final String bootstrap;
    private final LongSupplier connections;
    private final long graceMs;
    private final Consumer<String> log;
    private long disconnectedSinceMs = -1;
    private boolean lost;

    /** A watch over {@code connections} (open broker connections now), writing to {@code log}. */
    public BrokerWatch(String name, String bootstrap, LongSupplier connections, long graceMs, Consumer<String> log) {
        this.name = name;
        this.bootstrap = bootstrap;
        this.connections = connections;
        this.graceMs = graceMs;
        this.log = log;
    }

    /** A watch over the connections of {@code streams}' clients ({@code bootstrap} for the message, or null), logging at WARN (lost) and INFO (back). */
    public static BrokerWatch of(KafkaStreams streams, String name, String bootstrap) {
        return new BrokerWatch(name, bootstrap, () -> openConnections(streams.metrics()), DEFAULT_GRACE_MS,
                line -> {
                    if (line.contains("unreachable")) {
                        LOG.warn(line);
                    } else {
                        LOG.info(line);
                    }
                });
    }

    /** Sum of the clients' {@code connection-count} metrics (consumer, producer, admin). */
    static long openConnections(Map<MetricName, ? extends Metric> metrics) {
        long open = 0;
        for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
            MetricName m = e.getKey();
            if (m.name().equals("connection-count") && m.group().endsWith("-metrics")
                    && e.getValue().metricValue() instanceof Number n) {
                open += n.longValue();
            }
        }
        return open;
    }

    private String where() {
        return bootstrap == null ? "" : " (" + bootstrap + ")";
    }

    /** Whether the brokers are lost as of the last sample. */
    public boolean lost() {
        return lost;
    }

    /** Takes one sample at {@code nowMs}; logs a line when the brokers are lost or back. */
    public void sample(long nowMs) {
        if (connections.getAsLong() > 0) {
            if (lost) {
                log.accept(name + ": the Kafka brokers" + where() + " are reachable again after "
                        + (nowMs - disconnectedSinceMs) / 1000 + " s; processing resumes");
            }
            lost = false;
            disconnectedSinceMs = -1;
            return;
        }
        if (disconnectedSinceMs < 0) {
            disconnectedSinceMs = nowMs;
        }
        if (!lost && nowMs - disconnectedSinceMs >= graceMs) {
            lost = true;
            log.accept(name + ": the Kafka brokers" + where() + " are unreachable: no open connection for "
                    + (nowMs - disconnectedSinceMs) / 1000 + " s; the service waits for them (one line when they are back)");
        }
    }
}
