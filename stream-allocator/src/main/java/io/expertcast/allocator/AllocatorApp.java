package io.expertcast.allocator;

import io.expertcast.streams.StreamsService;
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.metrics.ServiceMetrics;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds the allocator topology on the shared base settings and starts it. */
public final class AllocatorApp {
    private static final Logger LOG = LoggerFactory.getLogger(AllocatorApp.class);

    private AllocatorApp() {
    }

    /**
     * Starts the allocator. The application id is {@code settings.applicationName()} unless
     * {@code overrides} set one; the caller closes the returned instance.
     */
    public static KafkaStreams start(String bootstrap, Path stateDir, AllocatorSettings settings,
                                     Map<String, ?> overrides) {
        return start(bootstrap, stateDir, settings, overrides, null);
    }

    /** As above, with its Kafka Streams metrics and its own (plans, moves, die balance) on {@code metrics} (may be null). */
    public static KafkaStreams start(String bootstrap, Path stateDir, AllocatorSettings settings,
                                     Map<String, ?> overrides, ServiceMetrics metrics) {
        return startService(bootstrap, stateDir, settings, overrides, metrics).streams();
    }

    /** The allocator as a started service, its metrics on {@code metrics} (may be null). */
    public static StreamsService startService(String bootstrap, Path stateDir, AllocatorSettings settings,
                                              Map<String, ?> overrides, ServiceMetrics metrics) {
        StreamsService service = service(bootstrap, stateDir, settings, overrides, metrics).start();
        Object applicationId = overrides.containsKey(StreamsConfig.APPLICATION_ID_CONFIG)
                ? overrides.get(StreamsConfig.APPLICATION_ID_CONFIG) : settings.applicationName();
        LOG.info("allocator started: {} on {} for {}", applicationId, bootstrap, settings.hardware().name());
        return service;
    }

    /** The allocator as a service, not started; its metrics on {@code metrics} (may be null). */
    public static StreamsService service(String bootstrap, Path stateDir, AllocatorSettings settings,
                                         Map<String, ?> overrides, ServiceMetrics metrics) {
        Properties props = StreamsSettings.base(settings.applicationName(), bootstrap, stateDir, overrides);
        AllocatorMeters meters = metrics == null ? AllocatorMeters.none() : AllocatorMeters.on(metrics.registry());
        return StreamsService.create("allocator", props, builder -> AllocatorTopology.build(builder, settings, meters),
                metrics);
    }
}
