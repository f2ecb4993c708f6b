package io.expertcast.predictor;

import io.expertcast.predictor.query.PredictorQueries;
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.query.QueryServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;

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
        KafkaStreams streams = new KafkaStreams(builder.build(props), props);
        streams.setUncaughtExceptionHandler(io.expertcast.streams.StreamThreadFailures.handler("predictor",
                org.slf4j.LoggerFactory.getLogger(PredictorApp.class)));
        return streams;
    }

    /**
     * Starts the predictor with its interactive-query HTTP server on 127.0.0.1:{@code httpPort} (0: any
     * free port), advertised to the other instances as {@code application.server} so queries reach the
     * instance that owns a key. The caller closes the returned instance (streams, then server).
     */
    public static Queried startWithQueries(String bootstrap, Path stateDir, PredictorSettings settings,
                                           Map<String, ?> overrides, int httpPort) throws IOException {
        QueryServer http = QueryServer.bind(httpPort);
        try {
            Map<String, Object> all = new HashMap<>(overrides);
            all.put(StreamsConfig.APPLICATION_SERVER_CONFIG, http.advertisedAddress());
            KafkaStreams streams = create(bootstrap, stateDir, settings, all);
            PredictorQueries.install(http, () -> streams, settings);
            http.start();
            streams.start();
            return new Queried(streams, http);
        } catch (RuntimeException e) {
            http.close();
            throw e;
        }
    }

    /** A running predictor and its query server. */
    public record Queried(KafkaStreams streams, QueryServer http) implements AutoCloseable {
        @Override
        public void close() {
            try {
                streams.close(Duration.ofSeconds(30));
            } finally {
                http.close();
            }
        }
    }
}
