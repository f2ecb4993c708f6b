package io.expertcast.allocator;

import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.metrics.ServiceMetrics;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
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
        Properties props = StreamsSettings.base(settings.applicationName(), bootstrap, stateDir, overrides);
        StreamsBuilder builder = new StreamsBuilder();
        AllocatorTopology.build(builder, settings,
                metrics == null ? AllocatorMeters.none() : AllocatorMeters.on(metrics.registry()));
        KafkaStreams streams = new KafkaStreams(builder.build(props), props);
        if (metrics != null) {
            metrics.bind(streams);
        }
        streams.setUncaughtExceptionHandler(io.expertcast.streams.StreamThreadFailures.handler("allocator", LOG));
        streams.start();
        LOG.info("allocator started: {} on {} for {}", props.get("application.id"), bootstrap,
                settings.hardware().name());
        return streams;
    }
}
