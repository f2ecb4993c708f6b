package io.expertcast.allocator;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.streams.StreamsService;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.StateDir;
import io.expertcast.streams.connect.KafkaConnection;
import io.expertcast.streams.http.OpsServer;
import io.expertcast.streams.metrics.ServiceMetrics;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.streams.KafkaStreams;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code expertcast allocator}: runs the allocator stage until Ctrl-C (or until it fails). */
@Command(name = "allocator", mixinStandardHelpOptions = true,
        description = "Plans every forward pass with Algorithm 1 (Insight 3): moe.selections + moe.passes -> "
                + "moe.allocations, moe.allocator-metrics, moe.placement; re-places experts from workload profiles per "
                + "tag (Insight 6) through moe.placement-commands when a tag's traffic starts and on a schedule.")
public class AllocatorCommand implements Callable<Integer> {

    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Mixin
    StateDir stateDir = new StateDir();

    @Option(names = "--mesh", defaultValue = AllocatorSettings.DEFAULT_MESH,
            description = "Hardware preset (dojo-5x5, tsmc-sow-8x3, dojo-enhanced) or properties file (default: ${DEFAULT-VALUE})")
    String mesh;

    @Option(names = "--application-id", defaultValue = AllocatorSettings.DEFAULT_APPLICATION_ID,
            description = "Kafka Streams application id (default: ${DEFAULT-VALUE})")
    String applicationId;

    @Option(names = "--rebalance-policy", defaultValue = ProfileRebalancing.DEFAULT_POLICY,
            description = "Placement policy the workload profiles are applied with (Insight 6): even, eplb, hot-replicate, "
                    + "pair-separate (which also keeps decayed expert co-activation counts of the passes and places "
                    + "with them, Insight 5) (default: ${DEFAULT-VALUE})")
    String rebalancePolicy;

    @Option(names = "--rebalance-period-ms", defaultValue = "600000",
            description = "Wall-clock period of the scheduled rebalance; also how long a silent tag stays active; "
                    + "0 keeps no workload profiles (default: ${DEFAULT-VALUE}, the paper's 10 minutes)")
    long rebalancePeriodMs;

    @Option(names = "--rebalance-max-moves", defaultValue = "" + ProfileRebalancing.DEFAULT_MAX_MOVES_PER_LAYER,
            description = "Moved experts (replicate or migrate) per MoE layer per rebalance (default: ${DEFAULT-VALUE})")
    int rebalanceMaxMoves;

    @Option(names = "--model-shape", description = "Extra model shape id:layers:moeLayers:experts:k[:hidden:intermediate], "
            + "e.g. the one import-sglang inferred (repeatable)")
    List<String> modelShapes = new ArrayList<>();

    @Option(names = "--profile-decay", defaultValue = "" + ProfileRebalancing.DEFAULT_DECAY,
            description = "Weight a tag's profile keeps at each forward pass of the tag, and the pair counts at each "
                    + "pass (default: ${DEFAULT-VALUE})")
    double profileDecay;

    @Option(names = "--http-port", defaultValue = "8472",
            description = "Port of /metrics (Prometheus) and /health; 0 picks a free port, -1 turns it off (default: ${DEFAULT-VALUE})")
    int httpPort;

    @Option(names = "--http-address", defaultValue = "127.0.0.1",
            description = "Address /metrics and /health bind (default: ${DEFAULT-VALUE}; a container publishing the port needs 0.0.0.0)")
    String httpAddress;

    @Option(names = "--max-tags-per-model", defaultValue = "" + TagStateLimits.DEFAULT_MAX_TAGS_PER_MODEL,
            description = "Workload profiles kept per model; beyond, the least recently seen tag's is evicted (default: ${DEFAULT-VALUE})")
    int maxTagsPerModel;

    @Option(names = "--tag-ttl-ms", defaultValue = "21600000",
            description = "A tag unseen for this long (wall clock) loses its profile; 0: no age limit (default: ${DEFAULT-VALUE}, 6 h)")
    long tagTtlMs;

    @Option(names = "--tag-start-gap-ms", defaultValue = "60000",
            description = "At most one re-placement triggered by a tag's start per model per this gap (default: ${DEFAULT-VALUE})")
    long tagStartGapMs;

    @Option(names = "--max-event-time-ahead-ms", defaultValue = "60000",
            description = "A selection or pass stamped further ahead of the wall clock goes to the dead letters (default: ${DEFAULT-VALUE})")
    long maxEventTimeAheadMs;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        HardwareConfig hardware;
        ProfileRebalancing rebalancing;
        TagStateLimits tagLimits;
        io.expertcast.core.time.EventTimeBound bound;
        ModelCatalog catalog = ModelCatalog.standard();
        try {
            for (String shape : modelShapes) {
                catalog.register(ModelCatalog.parseShape(shape));
            }
            tagLimits = new TagStateLimits(maxTagsPerModel, java.time.Duration.ofMillis(tagTtlMs),
                    java.time.Duration.ofMillis(tagStartGapMs));
            bound = new io.expertcast.core.time.EventTimeBound(java.time.Duration.ofMillis(maxEventTimeAheadMs));
            hardware = HardwareConfig.load(mesh);
            rebalancing = rebalancePeriodMs == 0 ? null
                    : new ProfileRebalancing(rebalancePolicy, rebalancePeriodMs, rebalanceMaxMoves, profileDecay);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            spec.commandLine().getErr().println("allocator: " + e.getMessage());
            return 2;
        }
        AllocatorSettings settings = new AllocatorSettings(catalog, hardware, applicationId, rebalancing,
                tagLimits, bound);
        BrokerPreflight.requirePipelineTopics(kafka);
        String bootstrap = kafka.bootstrap();
        ServiceMetrics metrics = ServiceMetrics.create("allocator");
        // Set once built; read by the HTTP threads answering /health.
        java.util.concurrent.atomic.AtomicReference<KafkaStreams> started = new java.util.concurrent.atomic.AtomicReference<>();
        OpsServer ops;
        try {
            ops = httpPort < 0 ? null : OpsServer.start(InetAddress.getByName(httpAddress), httpPort, metrics, started::get);
        } catch (IOException e) {
            spec.commandLine().getErr().println("allocator: cannot serve /metrics on " + httpAddress + ":" + httpPort + ": "
                    + e.getMessage() + " (choose --http-port, or -1 to turn it off)");
            metrics.close();
            return 2;
        }
        StreamsService service = AllocatorApp.startService(bootstrap, stateDir.path(), settings, kafka.overrides(Map.of()),
                metrics);
        started.set(service.streams());
        if (ops != null) {
            spec.commandLine().getOut().println("allocator metrics on " + ops.url() + "metrics, health on " + ops.url() + "health");
        }
        spec.commandLine().getOut().println("allocator running on " + bootstrap + " for " + hardware.name()
                + (rebalancing == null ? ", no workload profiles" : ", workload profiles applied with " + rebalancing.policy()
                + " every " + rebalancing.periodMs() / 1000 + " s, at most " + rebalancing.maxMovesPerLayer()
                + " moved experts per layer") + " (Ctrl-C stops it)");
        try {
            return service.runUntilStopped();
        } finally {
            if (ops != null) {
                ops.close();
            }
            metrics.close();
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new AllocatorCommand()).execute(args));
    }
}
