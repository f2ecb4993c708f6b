package io.expertcast.predictor;

import io.expertcast.predictor.metrics.PredictorMeters;
import io.expertcast.predictor.query.PredictorQueries;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.streams.metrics.TopicFollower;
import io.expertcast.streams.StreamsService;
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.query.QueryServer;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;

/** Builds the predictor topology on the project's base Streams settings and starts it. */
public final class PredictorApp {
    private PredictorApp() {
    }

    /**
     * Starts the predictor (the part {@code settings.role()} names); the caller closes the returned instance. The
     * application id is {@code settings.applicationId()} (default {@value PredictorSettings#DEFAULT_APPLICATION});
     * {@code overrides} win over the base settings.
     */
    public static KafkaStreams start(String bootstrap, Path stateDir, PredictorSettings settings,
                                     Map<String, ?> overrides) {
        return service(bootstrap, stateDir, settings, overrides, null).start().streams();
    }

    /** As {@link #start} but not started, so a caller can set listeners or handlers first. */
    public static KafkaStreams create(String bootstrap, Path stateDir, PredictorSettings settings,
                                      Map<String, ?> overrides) {
        return service(bootstrap, stateDir, settings, overrides, null).streams();
    }

    /** The predictor as a service (not started), its Kafka metrics on {@code metrics} (may be null). */
    public static StreamsService service(String bootstrap, Path stateDir, PredictorSettings settings,
                                         Map<String, ?> overrides, ServiceMetrics metrics) {
        var props = StreamsSettings.base(settings.applicationId(), bootstrap, stateDir, overrides);
        // The global heatmaps' local copy is rebuilt from moe.heatmaps: one left by a kill -9 stops every start.
        io.expertcast.streams.GlobalStoreCopies.wipe(props);
        StreamsBuilder builder = new StreamsBuilder();
        PredictorTopology.build(builder, settings);
        Topology topology = builder.build(props);
        // A state directory left by another role of this application id holds task stores renumbered since.
        io.expertcast.streams.StaleTaskStores.wipe(props, topology);
        return StreamsService.create("predictor", topology, props, metrics);
    }

    /**
     * Starts the predictor with its interactive-query HTTP server on 127.0.0.1:{@code httpPort} (0: any
     * free port), advertised to the other instances as {@code application.server} so queries reach the
     * instance that owns a key. The caller closes the returned instance (streams, then server).
     */
    public static Queried startWithQueries(String bootstrap, Path stateDir, PredictorSettings settings,
                                           Map<String, ?> overrides, int httpPort) throws IOException {
        return startWithQueries(bootstrap, stateDir, settings, overrides, InetAddress.getLoopbackAddress(), httpPort);
    }

    /** As above, the HTTP server on {@code httpAddress} (every address only in a container that publishes it). */
    public static Queried startWithQueries(String bootstrap, Path stateDir, PredictorSettings settings,
                                           Map<String, ?> overrides, InetAddress httpAddress, int httpPort)
            throws IOException {
        QueryServer http = QueryServer.bind(httpAddress, httpPort);
        try {
            Map<String, Object> all = new HashMap<>(overrides);
            all.put(StreamsConfig.APPLICATION_SERVER_CONFIG, http.advertisedAddress());
            // /metrics and /health beside the queries; the predictor's own metrics come from what it publishes.
            ServiceMetrics metrics = ServiceMetrics.create("predictor");
            StreamsService service = service(bootstrap, stateDir, settings, all, metrics);
            KafkaStreams streams = service.streams();
            PredictorQueries.install(http, () -> streams, settings);
            http.serveOps(metrics, () -> streams);
            http.start();
            service.start();
            TopicFollower published = PredictorMeters.follow(bootstrap, settings.applicationId() + "-metrics-reader", metrics);
            return new Queried(service, http, metrics, published);
        } catch (RuntimeException e) {
            http.close();
            throw e;
        }
    }

    /**
     * A running predictor, its query server, its metrics registry (JVM, Kafka Streams and the accuracy read
     * back from moe.predictor-metrics; a processor may be handed {@code metrics.registry()} for meters of its
     * own) and the reader of moe.predictor-metrics.
     */
    public record Queried(StreamsService service, QueryServer http, ServiceMetrics metrics, TopicFollower published)
            implements AutoCloseable {
        /** The running application. */
        public KafkaStreams streams() {
            return service.streams();
        }

        @Override
        public void close() {
            try {
                published.close();
                service.close();
            } finally {
                http.close();
                metrics.close();
            }
        }
    }
}
