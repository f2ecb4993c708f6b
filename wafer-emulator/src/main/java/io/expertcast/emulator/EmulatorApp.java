package io.expertcast.emulator;

import io.expertcast.emulator.http.WaferMeters;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.streams.StreamsService;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.streams.StreamsSettings;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.streams.KafkaStreams;

/** Builds and starts the emulator service. */
public final class EmulatorApp {
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
        return service(bootstrap, stateDir, settings, overrides, snapshot, metrics).start().streams();
    }

    /** The emulator as a service (not started), writing into {@code snapshot}, its metrics on {@code metrics} (may be null). */
    public static StreamsService service(String bootstrap, Path stateDir, EmulatorSettings settings,
                                         Map<String, ?> overrides, WaferSnapshot snapshot, ServiceMetrics metrics) {
        var props = StreamsSettings.base(settings.applicationName(), bootstrap, stateDir, overrides);
        if (metrics != null) {
            WaferMeters.bind(metrics, snapshot);
        }
        return StreamsService.create("emulator", props, builder -> EmulatorTopology.build(builder, settings, snapshot),
                metrics);
    }
}
