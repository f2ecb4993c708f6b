package io.expertcast.streams.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One service's metrics (Micrometer, Prometheus registry): JVM and process metrics, Kafka Streams and
 * client metrics through Micrometer's Kafka binders, and whatever the service registers itself on
 * {@link #registry()}. Every series carries {@code service}. {@link #scrape} is what {@code /metrics}
 * answers; the hooks added with {@link #beforeScrape} run first, so meters of keys that appeared since
 * the last scrape (a new model, a new policy) are registered before they are written out.
 */
public final class ServiceMetrics implements AutoCloseable {
    /** Content type of Prometheus' text format 0.0.4. */
    public static final String TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8";
    /** Content type of OpenMetrics 1.0.0 text, which Prometheus asks for first. */
    public static final String OPENMETRICS_FORMAT = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    private static final Logger LOG = LoggerFactory.getLogger(ServiceMetrics.class);
    /** System property that keeps every Kafka metric (see {@link #verbose}). */
    public static final String ALL_KAFKA_METRICS = "expertcast.metrics.all-kafka";
    /** RocksDB figures kept per store (the property and statistics metrics number ~50 per store and task). */
    private static final java.util.Set<String> STATE_KEPT = java.util.Set.of("block.cache.usage", "block.cache.capacity",
            "block.cache.pinned.usage", "cur.size.all.mem.tables", "size.all.mem.tables", "estimate.num.keys",
            "estimate.table.readers.mem", "total.sst.files.size", "live.sst.files.size", "mem.table.flush.pending",
            "compaction.pending", "num.running.compactions", "background.errors", "estimate.pending.compaction.bytes",
            "put.rate", "put.latency.avg", "get.rate", "get.latency.avg", "range.rate", "range.latency.avg",
            "prefix.scan.rate", "restore.rate", "write.stall.duration.avg");
    // Kafka adds metrics as tasks and partitions are assigned: the binder looks for new ones this often.
    private static final Duration KAFKA_REFRESH = Duration.ofSeconds(10);

    private final String service;
    private final PrometheusMeterRegistry registry;
    private final ScheduledExecutorService kafkaRefresh;
    private final List<AutoCloseable> binders = new ArrayList<>();
    private final List<Runnable> hooks = new CopyOnWriteArrayList<>();
    private final Map<String, Counter> hookErrors = new ConcurrentHashMap<>();

    private ServiceMetrics(String service) {
        this.service = service;
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags(Tags.of("service", service));
        if (!Boolean.getBoolean(ALL_KAFKA_METRICS)) {
            registry.config().meterFilter(MeterFilter.deny(ServiceMetrics::verbose));
        }
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
        binders.add(gc);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        kafkaRefresh = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, service + "-kafka-metrics");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Kafka metrics left out of a scrape unless {@value #ALL_KAFKA_METRICS} is set: per processor node,
     * per broker connection ({@code *.node.*}), read-replica and lead figures, and RocksDB's per-store
     * figures beyond {@link #STATE_KEPT}. Together they were ~70 % of a predictor's 2,500 series and
     * of its scrape time; what a dashboard needs (rates, lag, commit latency, RocksDB memory and
     * sizes) stays.
     */
    static boolean verbose(io.micrometer.core.instrument.Meter.Id id) {
        String name = id.getName();
        if (!name.startsWith("kafka.")) {
            return false;
        }
        if (name.startsWith("kafka.stream.processor.node.") || name.contains(".node.")
                || name.endsWith("preferred.read.replica") || name.contains("records.lead")) {
            return true;
        }
        if (name.startsWith("kafka.stream.state.")) {
            return !STATE_KEPT.contains(name.substring("kafka.stream.state.".length()));
        }
        return false;
    }

    /** A registry for {@code service} (predictor, allocator, emulator, ...), with JVM and process metrics bound. */
    public static ServiceMetrics create(String service) {
        return new ServiceMetrics(service);
    }

    public String service() {
        return service;
    }

    /** Where the service registers its own meters (and what a processor may be handed). */
    public MeterRegistry registry() {
        return registry;
    }

    /** Binds a Streams application's metrics and those of its embedded consumers, producers and admin client. */
    public ServiceMetrics bind(KafkaStreams streams) {
        KafkaStreamsMetrics binder = new KafkaStreamsMetrics(streams, Tags.empty(), kafkaRefresh, KAFKA_REFRESH);
        binder.bindTo(registry);
        synchronized (binders) {
            binders.add(binder);
        }
        return this;
    }

    /** Binds a plain consumer's metrics (a page or metric reader of the service's own). */
    public ServiceMetrics bind(Consumer<?, ?> consumer) {
        KafkaClientMetrics binder = new KafkaClientMetrics(consumer, Tags.empty(), kafkaRefresh, KAFKA_REFRESH);
        binder.bindTo(registry);
        synchronized (binders) {
            binders.add(binder);
        }
        return this;
    }

    /**
     * Runs before every scrape, on the scraping thread; a hook that throws (a store moving in a
     * rebalance) is counted in {@code expertcast_metrics_refresh_errors_total{source}} and the scrape
     * goes on with what is already registered.
     */
    public ServiceMetrics beforeScrape(String source, Runnable hook) {
        hooks.add(() -> {
            try {
                hook.run();
            } catch (RuntimeException e) {
                LOG.debug("metrics refresh of {} failed", source, e);
                hookErrors.computeIfAbsent(source, s -> Counter.builder("expertcast.metrics.refresh.errors")
                        .description("Scrapes whose refresh of this source failed (e.g. its state moving in a rebalance);"
                                + " the scrape then shows the last values")
                        .tag("source", s).register(registry)).increment();
            }
        });
        return this;
    }

    /** The registry in Prometheus' text format, or OpenMetrics when {@code accept} asks for it. */
    public Scrape scrape(String accept) {
        hooks.forEach(Runnable::run);
        boolean openMetrics = accept != null && accept.contains("application/openmetrics-text");
        String contentType = openMetrics ? OPENMETRICS_FORMAT : TEXT_FORMAT;
        return new Scrape(contentType, registry.scrape(contentType));
    }

    /** A scrape's body and the content type it is written in. */
    public record Scrape(String contentType, String body) {
    }

    @Override
    public void close() {
        synchronized (binders) {
            for (AutoCloseable b : binders) {
                try {
                    b.close();
                } catch (Exception e) {
                    LOG.debug("closing a metrics binder failed", e);
                }
            }
            binders.clear();
        }
        kafkaRefresh.shutdownNow();
        registry.close();
    }
}
