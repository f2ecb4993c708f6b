package io.expertcast.launcher.demo;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.local.WorkDir;
import io.expertcast.local.LocalBroker;
import io.expertcast.local.TopicAdmin;
import io.expertcast.predictor.PredictorSettings;
import io.expertcast.replayer.ReplayOptions;
import io.expertcast.replayer.ReplaySummary;
import io.expertcast.replayer.TraceReplayer;
import io.expertcast.schemas.Topics;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import io.expertcast.streams.connect.KafkaConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The whole pipeline on a real broker: starts a local KRaft broker (unless --bootstrap names one),
 * creates the topics, runs predictor, allocator and emulator, replays a trace folder (the bundled
 * real Llama-4 sample by default), waits until every expected output is committed, prints a
 * summary and the dashboard's address; on a terminal it keeps running for the dashboard until
 * Ctrl-C, otherwise (or with --exit) it stops everything after the summary.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run broker, topics, predictor, allocator, emulator and a replay of the bundled sample; print a summary.")
public final class DemoCommand implements Callable<Integer> {

    /** --bootstrap (or bootstrap.servers in --config/--property): that broker instead of one of the demo's own. */
    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--port", defaultValue = "19092", description = "Port of the demo's own broker, started unless "
            + "--bootstrap names one (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--controller-port", defaultValue = "19093", description = "Controller port of the demo's broker (default ${DEFAULT-VALUE}).")
    int controllerPort;

    @Option(names = "--traces", description = "Trace folder in the dataset's layout (default: the bundled sample).")
    Path traces;

    @Option(names = "--batch", defaultValue = "16", description = "Requests per batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--step-ms", defaultValue = "30", description = "Replay at an engine's pace: forward passes this many "
            + "ms apart, as a decode step of a large MoE model (20-50 ms); 0: as fast as possible (default ${DEFAULT-VALUE}).")
    private double stepMs;

    @Option(names = "--limit", defaultValue = "0", description = "Replay only the first N requests (default: all).")
    int limit;

    @Option(names = "--partitions", defaultValue = "4", description = "Partitions per topic (default ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--timeout", defaultValue = "150", description = "Seconds to wait for the outputs (default ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--http-port", defaultValue = "8470",
            description = "Port of the pipeline's page and the emulator's JSON and /metrics on 127.0.0.1; the predictor and the allocator serve /metrics on the next two ports (default ${DEFAULT-VALUE}; 0: any free ports).")
    int httpPort;

    @Option(names = "--exit", description = "Stop after the summary even on a terminal (without a terminal the demo always stops).")
    boolean exitAfterSummary;

    @Option(names = "--work-dir", description = "Where the demo keeps its broker data and state (default: <repo>/work/demo).")
    Path workDir;

    @Option(names = "--attach-standin", description = "Instead of replaying traces, run attach sglang against a local"
            + " stand-in of SGLang's expert distribution recorder (not SGLang: a made-up DeepSeek-V3-shaped engine).")
    boolean attachStandIn;

    @Option(names = "--standin-passes", defaultValue = "400",
            description = "With --attach-standin: forward passes the stand-in's engine runs (default ${DEFAULT-VALUE}).")
    int standInPasses;

    @Option(names = "--standin-rate", defaultValue = "40",
            description = "With --attach-standin: its passes per second (default ${DEFAULT-VALUE}).")
    double standInRate;

    static final int PREFILL_CHUNK = 256;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        Path home = WorkDir.defaultPath();
        Path work = workDir != null ? workDir : home.resolve("demo");
        Path sample = traces != null ? traces : home.getParent().resolve("data").resolve("sample");
        if (!Files.isDirectory(sample)) {
            System.err.println("demo: trace folder not found: " + sample);
            return 2;
        }
        ModelCatalog catalog = ModelCatalog.standard();
        PredictorSettings predictor = PredictorSettings.defaults();
        List<String> policies = EmulatorSettings.defaults().policies();
        ExpectedOutputs expected = ExpectedOutputs.of(sample, catalog, limit, batch, PREFILL_CHUNK, predictor.n());

        Cleanup cleanup = new Cleanup();
        Thread hook = new Thread(cleanup::run, "demo-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            String servers = kafka.givenBootstrap().orElse(null);
            Map<String, Object> client = kafka.clientProperties();
            if (servers == null) {
                LocalBroker broker = LocalBroker.withCurrentClasspath(work, port, controllerPort);
                broker.requireNotRunning(); // before the wipe: another demo's broker lives there
                WorkDir.delete(work); // a fresh broker each run, so the summary counts only this run
                out.printf("starting a KRaft broker on 127.0.0.1:%d (data in %s)%n", port, broker.dataDir());
                broker.start(Duration.ofSeconds(90));
                cleanup.broker = broker;
                servers = broker.bootstrapServers();
            }
            try (TopicAdmin admin = new TopicAdmin(servers, client, Duration.ofSeconds(30))) {
                var created = admin.createAll(Topics.ALL, partitions, (short) 1);
                out.printf("topics: %d created, %d already there%n", created.created().size(), created.existing().size());
            }
            String prefix = "expertcast-demo-" + System.currentTimeMillis() + "-";
            WaferSnapshot wafer = new WaferSnapshot();
            // Each stage serves /metrics and /health; the emulator also the pipeline's page (on --http-port,
            // or a free port when it is taken), the predictor its queries.
            // The services' own default ports beside the page's (8470, 8471, 8472), so a Prometheus config can name them.
            cleanup.stages = PipelineStages.startServed(servers, work.resolve("state"), prefix, client, wafer, httpPort,
                    httpPort == 0 ? 0 : httpPort + 1, httpPort == 0 ? 0 : httpPort + 2);
            cleanup.stages.awaitRunning(Duration.ofSeconds(60));
            if (attachStandIn) {
                return attachStandIn(servers, client, work, out, cleanup);
            }
            out.println("predictor, allocator and emulator running; replaying " + sample);

            ReplaySummary replay = TraceReplayer.replay(new ReplayOptions(servers, sample, batch, 0, limit, true,
                    PREFILL_CHUNK).withStepMs(stepMs).withClientProperties(client), System.console() != null ? System.err : null);

            try (PipelineOutputs outputs = new PipelineOutputs(servers, client)) {
                long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
                while (!expected.reachedBy(outputs, policies)) {
                    if (System.nanoTime() > deadline) {
                        System.err.println("demo: outputs incomplete after " + timeoutSeconds + " s: "
                                + expected.missing(outputs) + " (stages: " + cleanup.stages.states() + ")");
                        return 1;
                    }
                    outputs.poll(Duration.ofMillis(500));
                }
                outputs.poll(Duration.ofMillis(200));
                out.println();
                out.print(DemoSummary.format(replay, expected, outputs, policies, EmulatorSettings.defaults()));
            }
            Map<String, String> endpoints = cleanup.stages.endpoints();
            out.println("dashboard    " + endpoints.get("emulator") + " (the pipeline's page; JSON: " + endpoints.get("emulator")
                    + "snapshot)");
            out.println("metrics      " + String.join(", ", endpoints.values().stream().map(u -> u + "metrics").toList())
                    + " (Prometheus; /health on each)");
            if (System.console() != null && !exitAfterSummary) {
                out.println("the pipeline keeps running for the dashboard; Ctrl-C stops it (--exit stops here)");
                new CountDownLatch(1).await(); // until Ctrl-C: the shutdown hook stops everything
            }
            return 0;
        } finally {
            cleanup.run();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // Ctrl-C: the hook is running the same cleanup.
            }
        }
    }

    /** The stand-in path: attach publishes while the stand-in runs; then what the pipeline made of it. */
    private int attachStandIn(String servers, Map<String, Object> client, Path work, PrintStream out, Cleanup cleanup)
            throws Exception {
        out.println("predictor, allocator and emulator running; attaching to a recorder stand-in");
        var stats = AttachDemo.run(servers, client, work, standInPasses, standInRate, 1.0, out);
        try (PipelineOutputs outputs = new PipelineOutputs(servers, client)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
            long last = -1;
            int quiet = 0;
            while (quiet < 6 && System.nanoTime() < deadline) { // until the outputs stop growing for 3 s
                outputs.poll(Duration.ofMillis(500));
                long now = outputs.prefetchCommands() + outputs.nextTokenCommands() + outputs.allocationPlans();
                quiet = now == last && now > 0 ? quiet + 1 : 0;
                last = now;
            }
            out.println();
            out.printf("attach: %d windows, %d passes, %d selection events, %d loads, %d dead letters%n",
                    stats.windows(), stats.passes(), stats.selections(), stats.loads(), stats.deadLetters());
            out.printf("pipeline: %d decode-phase prefetch commands, %d next-token commands, %d allocation plans,"
                    + " %d dead letters%n", outputs.prefetchCommands(), outputs.nextTokenCommands(),
                    outputs.allocationPlans(), outputs.deadLetters().size());
            outputs.predictorMetrics().forEach((k, m) -> out.println("predictor " + k + ": " + m));
        }
        out.println("the stand-in is not SGLang and no real engine ran: its expert picks are random, so the"
                + " predictor's accuracy here means nothing");
        out.println("dashboard    " + cleanup.stages.endpoints().get("emulator"));
        return 0;
    }

    /** Stops what the demo started, once, whether it ends normally or by Ctrl-C. */
    private static final class Cleanup {
        private final AtomicBoolean done = new AtomicBoolean();
        volatile PipelineStages stages;
        volatile LocalBroker broker;

        void run() {
            if (!done.compareAndSet(false, true)) {
                return;
            }
            if (stages != null) {
                stages.close();
            }
            if (broker != null) {
                broker.stop(Duration.ofSeconds(20));
            }
        }
    }
}
