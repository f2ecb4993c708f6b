package io.expertcast.emulator;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.emulator.http.PipelinePage;
import io.expertcast.emulator.http.WaferHttpServer;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.core.wafer.PrefetchSource;
import io.expertcast.streams.StreamsService;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.StateDir;
import io.expertcast.streams.connect.KafkaConnection;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.streams.KafkaStreams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code expertcast emulator}: the wafer emulator service, until Ctrl-C. */
@Command(name = "emulator", mixinStandardHelpOptions = true,
        description = "Emulate the wafer on the stream: Base, EP, Allo, Pred and Allo+Pred side by side, to moe.wafer-metrics and JSON over HTTP.")
public final class EmulatorCommand implements Callable<Integer> {

    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--model-shape", description = "Extra model shape id:layers:moeLayers:experts:k[:hidden:intermediate], "
            + "e.g. the one import-sglang inferred (repeatable).")
    List<String> modelShapes = new java.util.ArrayList<>();

    @Mixin
    StateDir stateDir = new StateDir();

    @Option(names = "--mesh", defaultValue = "dojo-5x5", description = "Hardware preset or properties file (default ${DEFAULT-VALUE}).")
    String mesh;

    @Option(names = "--policies", defaultValue = "base,ep,allo,pred,allo+pred", split = ",", description = "Policies to run (default ${DEFAULT-VALUE}).")
    List<String> policies;

    @Option(names = "--http-port", defaultValue = "8470", description = "The pipeline's page, JSON API and Prometheus metrics (/, /snapshot, /events, /api/..., /metrics, /health); 0 picks a free port, -1 turns it off (default ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--http-address", defaultValue = "127.0.0.1",
            description = "Address the HTTP server binds (default ${DEFAULT-VALUE}; a container publishing the port needs 0.0.0.0).")
    String httpAddress;

    @Option(names = "--pred-n", defaultValue = "" + EmulatorSettings.DEFAULT_PREDICT_N, description = "Top-n heatmap successors per selected expert for the Pred policies with --prefetch-source in-process (default ${DEFAULT-VALUE}).")
    int predictN;

    @Option(names = "--prefetch-source", defaultValue = "topic",
            description = "Where the Pred policies' copy decisions come from: topic (the predictor's commands on moe.prefetch)"
                    + " or in-process (the core's token-level heatmap, as simulate; --pred-n) (default ${DEFAULT-VALUE}).")
    String prefetchSource;

    @Option(names = "--request-idle-timeout-ms", defaultValue = "600000",
            description = "With --prefetch-source topic: a request with no pass and no prefetch command for this long, in the"
                    + " passes' event time, is given up and its pending commands count as expired (default ${DEFAULT-VALUE},"
                    + " 10 min, as the predictor's).")
    long requestIdleTimeoutMs;

    @Option(names = "--max-event-time-ahead-ms", defaultValue = "60000",
            description = "A pass or selection stamped further ahead of the wall clock than this goes to the dead letters"
                    + " instead of moving the idle clock that expires other requests' commands (default ${DEFAULT-VALUE}).")
    long maxEventTimeAheadMs;

    @Option(names = "--application-id", defaultValue = EmulatorSettings.DEFAULT_APPLICATION_ID, description = "Kafka Streams application id (default ${DEFAULT-VALUE}).")
    String applicationId;

    @Override
    public Integer call() throws InterruptedException, java.io.IOException {
        EmulatorSettings settings;
        try {
            ModelCatalog catalog = ModelCatalog.standard();
            for (String shape : modelShapes) {
                catalog.register(ModelCatalog.parseShape(shape));
            }
            settings = new EmulatorSettings(catalog, HardwareConfig.load(mesh), policies, applicationId,
                    predictN, PrefetchSource.of(prefetchSource), java.time.Duration.ofMillis(requestIdleTimeoutMs),
                    new io.expertcast.core.time.EventTimeBound(java.time.Duration.ofMillis(maxEventTimeAheadMs)));
        } catch (IllegalArgumentException e) {
            System.err.println("emulator: " + e.getMessage());
            return 2;
        }
        BrokerPreflight.requirePipelineTopics(kafka);
        WaferSnapshot snapshot = new WaferSnapshot();
        ServiceMetrics metrics = ServiceMetrics.create("emulator");
        // Set once built; read by the HTTP threads answering /health.
        java.util.concurrent.atomic.AtomicReference<KafkaStreams> started = new java.util.concurrent.atomic.AtomicReference<>();
        // The pipeline's page reads the public topics (heatmaps, accuracy, placement) as any consumer would.
        PipelinePage page = httpPort >= 0 ? new PipelinePage(settings.catalog()) : null;
        WaferHttpServer http;
        try {
            http = httpPort >= 0 ? WaferHttpServer.start(java.net.InetAddress.getByName(httpAddress), httpPort, snapshot,
                    java.time.Duration.ofSeconds(1), metrics, started::get, page) : null;
        } catch (java.net.BindException | java.net.UnknownHostException e) {
            System.err.println("emulator: cannot serve HTTP on " + httpAddress + ":" + httpPort + ": " + e.getMessage()
                    + " (choose --http-port, or -1 to turn it off)");
            metrics.close();
            return 1; // a run-time failure (the port is taken), as the predictor's
        }
        try {
            String bootstrap = kafka.bootstrap();
            StreamsService service = EmulatorApp.service(bootstrap, stateDir.path(), settings, kafka.overrides(Map.of()),
                    snapshot, metrics);
            started.set(service.streams());
            service.start();
            if (page != null) {
                page.follow(bootstrap, applicationId + "-page", metrics);
            }
            System.out.println("emulator running on " + settings.hardware().name() + " (" + settings.hardware().dies()
                    + " dies), policies " + settings.policies() + ", prefetch source " + settings.prefetchSource()
                    + (http == null ? "" : "; the pipeline's page on " + http.url() + " (Prometheus: /metrics, health: /health,"
                    + " JSON: /snapshot)") + "; Ctrl-C stops it");
            return service.runUntilStopped();
        } finally {
            if (page != null) {
                page.close();
            }
            if (http != null) {
                http.close();
            }
            metrics.close();
        }
    }
}
