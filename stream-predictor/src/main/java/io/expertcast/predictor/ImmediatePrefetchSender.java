package io.expertcast.predictor;

import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.Topics;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The producer of {@link PrefetchDelivery#IMMEDIATE} commands: one per application instance and cluster,
 * shared by the instance's tasks (a {@link KafkaProducer} is thread-safe), opened by the first task that
 * needs it and closed when the last one closes. It sends with no linger (a command waits for nothing) and
 * never blocks a stream thread for long: a command it cannot hand to the producer within
 * {@link #MAX_BLOCK} is dropped and counted, as is one the broker refuses (a prefetch is advisory; the
 * decode step it was for will not wait). Failures are logged once per {@link #LOG_EVERY} with counts.
 */
final class ImmediatePrefetchSender implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ImmediatePrefetchSender.class);
    static final Duration MAX_BLOCK = Duration.ofMillis(500);
    private static final Duration LOG_EVERY = Duration.ofSeconds(30);
    private static final Map<String, ImmediatePrefetchSender> OPEN = new HashMap<>();

    private final String key;
    private final KafkaProducer<String, PrefetchCommand> producer;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private volatile long lastLogMs;
    private int users;

    private ImmediatePrefetchSender(String key, Map<String, Object> config) {
        this.key = key;
        this.producer = new KafkaProducer<>(config, Topics.PREFETCH.keySerde().serializer(),
                Topics.PREFETCH.valueSerde().serializer());
    }

    /** The instance's sender for the cluster of {@code appConfigs}; {@link #close} once per acquire. */
    static synchronized ImmediatePrefetchSender acquire(Map<String, Object> appConfigs) {
        Map<String, Object> config = producerConfig(appConfigs);
        String key = new TreeMap<>(config).toString();
        ImmediatePrefetchSender s = OPEN.computeIfAbsent(key, k -> new ImmediatePrefetchSender(k, config));
        s.users++;
        return s;
    }

    /**
     * The Streams application's connection settings (bootstrap servers, security, and anything set for its
     * producers with Streams' {@code producer.} prefix), with this sender's own: no linger, bounded blocking.
     */
    static Map<String, Object> producerConfig(Map<String, Object> appConfigs) {
        Map<String, Object> config = new HashMap<>();
        for (var e : appConfigs.entrySet()) {
            String k = e.getKey();
            if (k.equals(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG) || k.startsWith("security.")
                    || k.startsWith("sasl.") || k.startsWith("ssl.")) {
                config.put(k, e.getValue());
            }
        }
        for (var e : appConfigs.entrySet()) {
            if (e.getKey().startsWith(StreamsConfig.PRODUCER_PREFIX)) {
                String k = e.getKey().substring(StreamsConfig.PRODUCER_PREFIX.length());
                if (!k.startsWith("transaction")) {
                    config.put(k, e.getValue());
                }
            }
        }
        config.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) MAX_BLOCK.toMillis());
        config.put(ProducerConfig.CLIENT_ID_CONFIG, appConfigs.getOrDefault(StreamsConfig.APPLICATION_ID_CONFIG,
                "expertcast-predictor") + "-prefetch");
        return config;
    }

    /** Sends one command (key = request id) at once; never throws into the stream thread. */
    void send(String requestId, PrefetchCommand command, long timestampMs) {
        try {
            producer.send(new ProducerRecord<>(Topics.PREFETCH.name(), null, timestampMs, requestId, command),
                    (meta, error) -> {
                        if (error == null) {
                            sent.incrementAndGet();
                        } else {
                            failed(error);
                        }
                    });
        } catch (RuntimeException e) { // the buffer stayed full for MAX_BLOCK, or the producer was closed
            failed(e);
        }
    }

    private void failed(Exception error) {
        long n = failed.incrementAndGet();
        long now = System.currentTimeMillis();
        if (now - lastLogMs >= LOG_EVERY.toMillis()) {
            lastLogMs = now;
            LOG.warn("prefetch commands not delivered: {} so far ({} delivered); latest: {}", n, sent.get(),
                    error.toString());
        }
    }

    long sent() {
        return sent.get();
    }

    long failed() {
        return failed.get();
    }

    @Override
    public void close() {
        synchronized (ImmediatePrefetchSender.class) {
            if (--users > 0) {
                return;
            }
            OPEN.remove(key);
        }
        producer.close(Duration.ofSeconds(5)); // what was sent goes out first
    }
}
