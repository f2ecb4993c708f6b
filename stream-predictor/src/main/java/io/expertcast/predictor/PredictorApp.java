package io.expertcast.predictor;

import io.expertcast.streams.StreamsSettings;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;

/** Builds the predictor topology on the project's base Streams settings and starts it. */
public final class PredictorApp {
    private PredictorApp() {
    }

    /**
     * Starts the predictor; the caller closes the returned instance. The application id is
     * {@code settings.applicationName()} (default {@value PredictorSettings#DEFAULT_APPLICATION});
     * {@code overrides} win over the base settings.
     */
    public static KafkaStreams start(String bootstrap, Path stateDir, PredictorSettings settings,
                                     Map<String, ?> overrides) {
        KafkaStreams streams = create(bootstrap, stateDir, settings, overrides);
        streams.start();
        return streams;
    }

    /** As {@link #start} but not started, so a caller can set listeners or handlers first. */
    public static KafkaStreams create(String bootstrap, Path stateDir, PredictorSettings settings,
                                      Map<String, ?> overrides) {
        StreamsBuilder builder = new StreamsBuilder();
        PredictorTopology.build(builder, settings);
        var props = StreamsSettings.base(settings.applicationName(), bootstrap, stateDir, overrides);
        return new KafkaStreams(builder.build(props), props);
    }
}
