package io.expertcast.predictor;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.StateDir;
import io.expertcast.streams.connect.KafkaConnection;
import io.expertcast.streams.query.QueryServer;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code expertcast predictor}: runs the predictor until Ctrl-C. */
@Command(name = "predictor", mixinStandardHelpOptions = true,
        description = "Decode-phase and next-token prediction (Insights 1-2): prefetch commands to moe.prefetch, "
                + "heatmaps to moe.heatmaps and moe.prediction-tables, live accuracy to moe.predictor-metrics; "
                + "interactive queries over HTTP (GET /requests/{id}, /accuracy, /tables/{model}/{layer}).")
public final class PredictorCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(PredictorCommand.class);

    @Spec
    CommandSpec spec;

    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Mixin
    StateDir stateDir = new StateDir();

    @Option(names = "--n", defaultValue = "" + PredictorSettings.DEFAULT_N, description = "Experts planned per MoE layer (default: ${DEFAULT-VALUE})")
    int n;

    @Option(names = "--application-id", defaultValue = PredictorSettings.DEFAULT_APPLICATION, description = "Kafka Streams application id (default: ${DEFAULT-VALUE})")
    String applicationId;

    @Option(names = "--publish-interval-ms", defaultValue = "1000", description = "How often accuracy is published (default: ${DEFAULT-VALUE})")
    long publishIntervalMs;

    @Option(names = "--http-port", defaultValue = "8471",
            description = "Port of the interactive-query HTTP API on 127.0.0.1 (0: any free port; default: ${DEFAULT-VALUE})")
    int httpPort;

    @Option(names = "--http-address", defaultValue = "127.0.0.1",
            description = "Address the HTTP API (queries, /metrics, /health) binds (default: ${DEFAULT-VALUE}; a container "
                    + "publishing the port needs 0.0.0.0, and then advertises its host name)")
    String httpAddress;

    @Option(names = "--heatmap-half-life", defaultValue = "" + PredictorSettings.DEFAULT_HEATMAP_HALF_LIFE_TOKENS, description = "Half-life of the global heatmaps' counts, in tokens of the model; 0 = no decay (default: ${DEFAULT-VALUE})")
    double heatmapHalfLife;

    @Option(names = "--heatmap-publish-interval-ms", defaultValue = "5000", description = "How often changed heatmaps go to moe.heatmaps and moe.prediction-tables (default: ${DEFAULT-VALUE})")
    long heatmapPublishIntervalMs;

    @Option(names = "--heatmap-snapshot-interval-ms", defaultValue = "60000", description = "How often a changed "
            + "layer's whole transition tables go to moe.heatmaps; the publications between carry only their top "
            + "rows; a restart loses at most this interval of counts (default: ${DEFAULT-VALUE})")
    long heatmapSnapshotIntervalMs;

    @Option(names = "--table-width", defaultValue = "" + PredictorSettings.DEFAULT_N, description = "Successors per row of a prediction table (default: ${DEFAULT-VALUE})")
    int tableWidth;

    @Option(names = "--heatmap-shards", defaultValue = "" + PredictorSettings.DEFAULT_HEATMAP_SHARDS, description = "Keys a model's MoE layers are spread over for the heatmaps; the layer count = one key per layer (default: ${DEFAULT-VALUE})")
    int heatmapShards;

    @Option(names = "--stream-threads", defaultValue = "1", description = "Kafka Streams threads of this instance; "
            + "tasks (one per partition of moe.selections) are spread over them (default: ${DEFAULT-VALUE})")
    int streamThreads;

    @Option(names = "--prefetch-delivery", defaultValue = "immediate", description = "How prefetch commands reach "
            + "moe.prefetch: immediate (at once, by a producer of their own, at least once: a duplicate after a crash "
            + "is harmless) or transactional (in the exactly-once transaction: a read_committed reader sees them at "
            + "each commit). Accuracy and heatmaps stay exactly once either way (default: ${DEFAULT-VALUE})")
    String prefetchDelivery;

    @Option(names = "--role", defaultValue = "all", description = "Which part of the predictor this instance runs: "
            + "all, requests (forecasts, commands, accuracy; the predictor's application id) or heatmaps (the "
            + "heatmap aggregator, application id <application-id>-heatmaps), so the aggregator's counting can run on "
            + "other cores or machines (default: ${DEFAULT-VALUE})")
    String role;

    @Option(names = "--model-shape", description = "Extra model shape id:layers:moeLayers:experts:k[:hidden:intermediate] (repeatable)")
    List<String> modelShapes = new ArrayList<>();

    @Override
    public Integer call() throws InterruptedException, IOException {
        PredictorSettings settings = settings();
        if (httpPort < 0 || httpPort > 65535) {
            throw new ParameterException(spec.commandLine(), "--http-port must be in 0..65535, got " + httpPort);
        }
        if (streamThreads < 1) {
            throw new ParameterException(spec.commandLine(), "--stream-threads must be at least 1, got " + streamThreads);
        }
        PrefetchDelivery delivery;
        try {
            delivery = PrefetchDelivery.of(prefetchDelivery);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        BrokerPreflight.requirePipelineTopics(kafka);
        String bootstrap = kafka.bootstrap();
        PredictorApp.Queried predictor;
        try {
            predictor = PredictorApp.startWithQueries(bootstrap, stateDir.path(), settings,
                    kafka.overrides(Map.of(StreamsConfig.NUM_STREAM_THREADS_CONFIG, streamThreads,
                            PrefetchDelivery.CONFIG, delivery.label())), InetAddress.getByName(httpAddress), httpPort);
        } catch (BindException e) {
            throw new IOException("cannot serve queries on " + httpAddress + ":" + httpPort + " (" + e.getMessage()
                    + "); choose another --http-port", e);
        }
        try (QueryServer http = predictor.http()) {
            LOG.info("predictor {} ({} role) running on {} (n={}), queries on http://{}/ (/metrics, /health), Ctrl-C "
                    + "to stop", settings.applicationId(), settings.role().label(), bootstrap, n, http.advertisedAddress());
            return predictor.service().runUntilStopped();
        }
    }

    /** The settings the options describe; a bad option is a usage error, not a stack trace. */
    PredictorSettings settings() {
        try {
            ModelCatalog catalog = ModelCatalog.standard();
            for (String spec : modelShapes) {
                catalog.register(ModelCatalog.parseShape(spec));
            }
            return new PredictorSettings(catalog, n, Duration.ofMillis(publishIntervalMs), applicationId)
                    .withHeatmapHalfLifeTokens(heatmapHalfLife)
                    .withHeatmapPublishInterval(Duration.ofMillis(heatmapPublishIntervalMs))
                    .withTableWidth(tableWidth)
                    .withHeatmapShards(heatmapShards)
                    .withHeatmapSnapshotInterval(Duration.ofMillis(heatmapSnapshotIntervalMs))
                    .withRole(PredictorRole.of(role));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }
}
