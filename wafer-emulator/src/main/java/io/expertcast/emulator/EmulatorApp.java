package io.expertcast.emulator;

import io.expertcast.emulator.http.WaferSnapshot;
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
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, settings, snapshot);
        var props = StreamsSettings.base(settings.applicationName(), bootstrap, stateDir, overrides);
        KafkaStreams streams = new KafkaStreams(builder.build(props), props);
        streams.setUncaughtExceptionHandler(StreamThreadFailures.handler("emulator", LOG));
        streams.start();
        return streams;
    }
}
