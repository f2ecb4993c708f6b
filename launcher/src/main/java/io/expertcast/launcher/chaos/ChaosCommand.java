package io.expertcast.launcher.chaos;

import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.core.wafer.PrefetchSource;
import io.expertcast.local.WorkDir;
import io.expertcast.launcher.demo.PipelineStages;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
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
                + "broker, each mid-run; prints scenario, expected, measured, verdict.",
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

    @Option(names = "--quick", description = "The short version (4 requests, batches of 4), as CI runs it.")
    boolean quick;

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
        @Option(names = "--bootstrap", required = true)
        String bootstrap;
        @Option(names = "--state-dir", required = true)
        Path stateDir;
        @Option(names = "--prefix", required = true)
        String prefix;
        @Option(names = "--instance", required = true, description = "host:port naming the instance in the groups")
        String instance;

        @Override
        public Integer call() throws Exception {
            // The Pred policies forecast in-process, so the emulator's totals do not depend on the predictor's timing.
            EmulatorSettings emulator = EmulatorSettings.defaults().withPrefetchSource(PrefetchSource.IN_PROCESS);
            PipelineStages stages = PipelineStages.start(bootstrap, stateDir, prefix, overrides(instance),
                    new WaferSnapshot(), emulator);
            stages.awaitRunning(Duration.ofMinutes(5));
            System.out.println("RUNNING");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
            return 0;
        }
    }

    /** A dead instance is noticed after 6 s (the broker's minimum session timeout) instead of 45 s. */
    static Map<String, Object> overrides(String instance) {
        Map<String, Object> o = new HashMap<>();
        o.put("application.server", instance);
        o.put("consumer.session.timeout.ms", 6000);
        o.put("consumer.heartbeat.interval.ms", 1500);
        return o;
    }
}
