package io.expertcast.emulator;

import io.expertcast.emulator.http.WaferMeters;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.streams.StreamThreadFailures;
import io.expertcast.streams.StreamsSettings;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;

/** Builds and starts the emulator service. */
public final class EmulatorApp {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(EmulatorApp.class);
    private EmulatorApp() {
    }

    /** The emulator's Kafka Streams application, started. */
    public static KafkaStreams start(String bootstrap, Path stateDir, EmulatorSettings settings,
                                     Map<String, ?> overrides) {
        return start(bootstrap, stateDir, settings, overrides, new WaferSnapshot());
    }

    /** As above, the topology writing into {@code snapshot} for the HTTP API. */
    public static KafkaStreams start(String bootstrap, Path stateDir, EmulatorSettings settings,
                                     Map<String, ?> overrides, WaferSnapshot snapshot) {
        return start(bootstrap, stateDir, settings, overrides, snapshot, null);
    }

    /**
     * As above, with its Kafka Streams metrics and its own (per-policy throughput, hops, prefetch fates from
     * {@code snapshot}) on {@code metrics} (may be null).
     */
    public static KafkaStreams start(String bootstrap, Path stateDir, EmulatorSettings settings,
                                     Map<String, ?> overrides, WaferSnapshot snapshot, ServiceMetrics metrics) {
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, settings, snapshot);
        var props = StreamsSettings.base(settings.applicationName(), bootstrap, stateDir, overrides);
        KafkaStreams streams = new KafkaStreams(builder.build(props), props);
        if (metrics != null) {
            metrics.bind(streams);
            WaferMeters.bind(metrics, snapshot);
        }
        streams.setUncaughtExceptionHandler(StreamThreadFailures.handler("emulator", LOG));
        streams.start();
        return streams;
    }
}
