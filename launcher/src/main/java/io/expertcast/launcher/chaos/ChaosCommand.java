package io.expertcast.launcher.chaos;

import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.core.wafer.PrefetchSource;
import io.expertcast.local.WorkDir;
import io.expertcast.allocator.AllocatorApp;
import io.expertcast.allocator.AllocatorSettings;
import io.expertcast.allocator.ProfileRebalancing;
import io.expertcast.allocator.TagStateLimits;
import io.expertcast.emulator.EmulatorApp;
import io.expertcast.predictor.PredictorApp;
import io.expertcast.predictor.PredictorSettings;
import io.expertcast.predictor.PrefetchDelivery;
import java.util.ArrayList;
import org.apache.kafka.streams.KafkaStreams;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import io.expertcast.streams.StateDir;
import io.expertcast.streams.connect.KafkaConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code expertcast chaos}: the fault suite against the real services ({@link ChaosSuite}): a local
 * cluster of 3 brokers, two instances of each stage in JVMs of their own, then the two-source, replay,
 * crash and broker scenarios; prints a table (scenario, expected, measured, verdict); exit 0 only if
 * every scenario passed.
 */
@Command(name = "chaos", mixinStandardHelpOptions = true,
        description = "Fault suite: a local 3-broker cluster (127.0.0.1), two instances of each stage, then "
                + "two sources at once, a kill -9 of a resumable replay, of one instance of each stage and of one "
                + "broker, each mid-run, a ~1 MB record, a skewed load, many workload tags and a flood of "
                + "malformed records; prints scenario, expected, measured, verdict.",
        subcommands = ChaosCommand.Stages.class)
public final class ChaosCommand implements Callable<Integer> {

    @Option(names = "--work-dir", description = "Work directory; the suite uses <work-dir>/chaos (wiped first). "
            + "Default: $EXPERTCAST_HOME/work.")
    Path workDir;

    @Option(names = "--port", defaultValue = "19500", description = "First of the 6 ports of the 3 brokers "
            + "(client --port + 2i, controller --port + 1 + 2i). Default: ${DEFAULT-VALUE}.")
    int port;

    @Option(names = "--traces", description = "Trace folder (default: the bundled sample).")
    Path traces;

    @Option(names = "--quick", description = "The short version, as CI runs it: 4 requests in batches of 4, "
            + "100 workload tags, without the skew and flood scenarios.")
    boolean quick;

    @Option(names = "--only", split = ",", description = "Run only these scenarios, in the suite's order (of: "
            + "two-source, replay, crash, broker, oversized, skew, tag-cardinality, flood).")
    List<String> only;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path home = WorkDir.defaultPath();
        Path work = (workDir != null ? workDir : home).resolve("chaos");
        Path sample = traces != null ? traces : home.toAbsolutePath().getParent().resolve("data").resolve("sample");
        if (!Files.isDirectory(sample)) {
            spec.commandLine().getErr().println("chaos: trace folder not found: " + sample);
            return 2;
        }
        ChaosSuite.Settings settings = quick ? ChaosSuite.Settings.quick(sample) : ChaosSuite.Settings.full(sample);
        if (only != null && !only.isEmpty()) {
            try {
                settings = settings.only(new java.util.HashSet<>(only));
            } catch (IllegalArgumentException e) {
                spec.commandLine().getErr().println("chaos: " + e.getMessage());
                return 2;
            }
        }
        List<ChaosSuite.Row> rows = new ChaosSuite(work, port, settings, out).run();
        out.println();
        out.println(ChaosSuite.table(rows));
        boolean passed = rows.stream().allMatch(ChaosSuite.Row::passed);
        out.println(passed ? "chaos: every scenario passed" : "chaos: some scenario failed");
        out.flush();
        return passed ? 0 : 1;
    }

    /** One instance of each stage, until killed: what the suite starts twice and kills. */
    @Command(name = "stages", hidden = true, description = "Run one instance of each stage (for chaos).")
    static final class Stages implements Callable<Integer> {
        @Mixin
        KafkaConnection kafka = new KafkaConnection();
        @Mixin
        StateDir stateDir = new StateDir();
        @Option(names = "--prefix", required = true)
        String prefix;
        @Option(names = "--instance", required = true, description = "host:port naming the instance in the groups")
        String instance;

        @Override
        public Integer call() throws Exception {
            Map<String, Object> overrides = kafka.overrides(overrides(instance));
            Path state = stateDir.path();
            String bootstrap = kafka.bootstrap();
            String predictorId = prefix + "predictor";
            Map<String, Object> predictorOverrides = new HashMap<>(overrides);
            // Prefetch commands at once (at least once), as `expertcast predictor` sends them by default.
            predictorOverrides.put(PrefetchDelivery.CONFIG, PrefetchDelivery.IMMEDIATE.label());
            predictorOverrides.put("expertcast.heatmap.max-tags", MAX_TAGS);
            List<KafkaStreams> apps = new ArrayList<>();
            apps.add(PredictorApp.start(bootstrap, state.resolve("predictor"),
                    PredictorSettings.defaults().withApplicationName(predictorId), predictorOverrides));
            // The allocator as `expertcast allocator` runs it (workload profiles on), with fewer tags per model.
            AllocatorSettings allocator = AllocatorSettings.defaults();
            apps.add(AllocatorApp.start(bootstrap, state.resolve("allocator"), new AllocatorSettings(allocator.catalog(),
                    allocator.hardware(), prefix + "allocator", ProfileRebalancing.DEFAULT).withTagLimits(
                    new TagStateLimits(MAX_TAGS, TagStateLimits.DEFAULT_TAG_TTL, TagStateLimits.DEFAULT_MIN_TAG_START_GAP)),
                    overrides));
            // The Pred policies forecast in-process, so the emulator's totals do not depend on the predictor's timing.
            EmulatorSettings emulator = EmulatorSettings.defaults().withPrefetchSource(PrefetchSource.IN_PROCESS)
                    .withApplicationName(prefix + "emulator");
            apps.add(EmulatorApp.start(bootstrap, state.resolve("emulator"), emulator, overrides, new WaferSnapshot()));
            long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
            while (!apps.stream().allMatch(a -> a.state() == KafkaStreams.State.RUNNING)) {
                for (KafkaStreams a : apps) {
                    if (a.state() == KafkaStreams.State.ERROR || a.state() == KafkaStreams.State.NOT_RUNNING
                            || a.state() == KafkaStreams.State.PENDING_ERROR || System.nanoTime() > deadline) {
                        System.err.println("chaos stages: not running: " + a.state());
                        return 1;
                    }
                }
                Thread.sleep(100);
            }
            System.out.println("RUNNING");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
            return 0;
        }
    }

    /**
     * Workload tags the predictor keeps per model and layer, and the allocator per model (both 256 by
     * default): low enough that the tag-cardinality scenario's quick version goes past it.
     */
    static final int MAX_TAGS = 64;

    /** A dead instance is noticed after 6 s (the broker's minimum session timeout) instead of 45 s. */
    static Map<String, Object> overrides(String instance) {
        Map<String, Object> o = new HashMap<>();
        o.put("application.server", instance);
        o.put("consumer.session.timeout.ms", 6000);
        o.put("consumer.heartbeat.interval.ms", 1500);
        return o;
    }
}
