package io.expertcast.launcher.chaos;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.core.wafer.Policies;
import io.expertcast.local.LocalBroker;
import io.expertcast.local.LocalCluster;
import io.expertcast.local.TopicAdmin;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.replayer.ReplayOptions;
import io.expertcast.streams.pass.ScheduledPass;
import io.expertcast.replayer.TraceReplayer;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/**
 * The fault suite behind {@code expertcast chaos}. Every scenario replays the traces under a source
 * id of its own, so its outputs are told apart from the others' on the same long-running services,
 * and is judged on committed records only: every plan of the source once (none lost, none twice),
 * and every pass and token of the source under each emulator policy.
 * <ul>
 *   <li>two-source: two replays of the same traces at once (same request and pass ids);</li>
 *   <li>replay: a resumable replay (its own JVM) killed -9 mid-run, then run again to its end;</li>
 *   <li>crash: one instance of each stage (one JVM) killed -9 mid-run; the other takes over;</li>
 *   <li>broker: one of the 3 brokers killed -9 mid-run (replication factor 3, min ISR 2).</li>
 * </ul>
 */
final class ChaosSuite {
    private static final String MODEL = "llama4-maverick";
    private static final String PREFIX = "chaos-";

    /** Traces, how many requests, batch size and replay pace. */
    record Settings(Path traces, int limit, int batch, double tokensPerSecond, Duration timeout) {
        static Settings quick(Path traces) {
            return new Settings(traces, 4, 4, 60, Duration.ofMinutes(4));
        }

        static Settings full(Path traces) {
            return new Settings(traces, 0, 16, 150, Duration.ofMinutes(8));
        }
    }

    /** One line of the table. */
    record Row(String scenario, String expected, String measured, boolean passed) {
    }

    private record Expected(long passes, long tokens, long plans) {
        String describe() {
            return String.format(Locale.ROOT, "%d plans once; %d passes, %d tokens under each of %d policies", plans,
                    passes, tokens, Policies.ALL.size());
        }
    }

    private final Path work;
    private final int port;
    private final Settings settings;
    private final PrintWriter log;
    private final String classpath = System.getProperty("java.class.path");
    private final List<Process> children = new ArrayList<>();

    ChaosSuite(Path work, int port, Settings settings, PrintWriter log) {
        this.work = work.toAbsolutePath().normalize();
        this.port = port;
        this.settings = settings;
        this.log = log;
    }

    List<Row> run() throws Exception {
        deleteTree(work);
        Files.createDirectories(work);
        LocalCluster cluster = new LocalCluster(work, 3, port, port + 1, classpath, List.of("-Xms64m", "-Xmx384m"));
        List<Row> rows = new ArrayList<>();
        try {
            say("starting a local cluster of 3 brokers at " + cluster.bootstrapServers());
            List<Long> brokerPids = cluster.start(Duration.ofMinutes(3));
            String bootstrap = cluster.bootstrapServers();
            try (TopicAdmin admin = new TopicAdmin(bootstrap, Duration.ofSeconds(60))) {
                admin.createAll(Topics.ALL, 4, (short) 3);
            }
            say("starting two instances of each stage");
            startStages(bootstrap, "a", "127.0.0.1:1");
            Process b = startStages(bootstrap, "b", "127.0.0.1:2");
            Expected expected = expected();
            try (SourceOutputs outputs = new SourceOutputs(bootstrap)) {
                rows.add(twoSources(bootstrap, outputs, expected));
                rows.add(replayKilled(bootstrap, outputs, expected));
                rows.add(faultMidRun("crash", "one instance of each stage killed -9", bootstrap, outputs, expected,
                        () -> b.destroyForcibly()));
                long victim = brokerPids.get(2);
                rows.add(faultMidRun("broker", "broker 3 of 3 killed -9", bootstrap, outputs, expected,
                        () -> ProcessHandle.of(victim).ifPresent(ProcessHandle::destroyForcibly)));
            }
        } finally {
            children.forEach(Process::destroyForcibly);
            cluster.stop(Duration.ofSeconds(20));
        }
        return rows;
    }

    private Row twoSources(String bootstrap, SourceOutputs outputs, Expected expected) throws Exception {
        say("two-source: replaying the traces twice at once");
        long started = System.nanoTime();
        CompletableFuture<?> a = CompletableFuture.runAsync(() -> replay(bootstrap, "chaos-2a", null, 0));
        CompletableFuture<?> b = CompletableFuture.runAsync(() -> replay(bootstrap, "chaos-2b", null, 0));
        CompletableFuture.allOf(a, b).get();
        String ma = await(outputs, "chaos-2a", expected);
        String mb = await(outputs, "chaos-2b", expected);
        return new Row("two-source", "each source: " + expected.describe(), "a: " + ma + "; b: " + mb
                + String.format(Locale.ROOT, " (%.0f s)", (System.nanoTime() - started) / 1e9),
                exact(outputs, "chaos-2a", expected) && exact(outputs, "chaos-2b", expected));
    }

    private Row replayKilled(String bootstrap, SourceOutputs outputs, Expected expected) throws Exception {
        say("replay: a resumable replay in its own JVM, killed -9 mid-run, then run again");
        String id = "chaos-replay";
        List<String> command = new ArrayList<>(List.of("replay", "--bootstrap", bootstrap, "--traces",
                settings.traces().toString(), "--batch", Integer.toString(settings.batch()), "--rate",
                Double.toString(settings.tokensPerSecond()), "--replay-id", id, "--checkpoint-passes", "5",
                "--skip-bad"));
        if (settings.limit() > 0) {
            command.addAll(List.of("--limit", Integer.toString(settings.limit())));
        }
        Path stdout = work.resolve("replay.out");
        Process replay = launch(command, stdout, work.resolve("replay.log"));
        // Mid-run: once a quarter of the source's plans are out (so some transactions were committed).
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        while (outputs.plans(id) < expected.plans() / 4 && replay.isAlive() && System.nanoTime() < deadline) {
            outputs.poll(Duration.ofMillis(500));
        }
        boolean midRun = replay.isAlive();
        long before = outputs.plans(id);
        replay.destroyForcibly().waitFor();
        replay(bootstrap, id, id, 0);
        String measured = await(outputs, id, expected);
        boolean passed = midRun && exact(outputs, id, expected);
        return new Row("replay", expected.describe(), "killed at " + before + " plans" + (midRun ? "" : " (too late)")
                + ", resumed: " + measured, passed);
    }

    private Row faultMidRun(String name, String fault, String bootstrap, SourceOutputs outputs, Expected expected,
                            Runnable kill) throws Exception {
        say(name + ": " + fault + " while a replay runs");
        String source = "chaos-" + name;
        CompletableFuture<?> replay = CompletableFuture.runAsync(() -> replay(bootstrap, source, null,
                settings.tokensPerSecond()));
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        while (outputs.plans(source) < expected.plans() / 5 && System.nanoTime() < deadline) {
            outputs.poll(Duration.ofMillis(500));
        }
        long before = outputs.plans(source);
        boolean midRun = before < expected.plans();
        long killedAt = System.nanoTime();
        kill.run();
        replay.get();
        String measured = await(outputs, source, expected);
        double after = (System.nanoTime() - killedAt) / 1e9;
        return new Row(name, expected.describe() + "; " + fault,
                String.format(Locale.ROOT, "killed at %d plans; %s; complete %.1f s after the kill", before, measured, after),
                midRun && exact(outputs, source, expected));
    }

    /** Polls until the source's outputs are complete (or the timeout), then a few more times to see doubles. */
    private String await(SourceOutputs outputs, String source, Expected expected) {
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        while (!complete(outputs, source, expected) && System.nanoTime() < deadline) {
            outputs.poll(Duration.ofMillis(500));
        }
        for (int i = 0; i < 4; i++) {
            outputs.poll(Duration.ofMillis(500));
        }
        java.util.TreeSet<Long> passes = new java.util.TreeSet<>();
        java.util.TreeSet<Long> tokens = new java.util.TreeSet<>();
        for (String policy : Policies.ALL) {
            WaferMetrics m = outputs.totals(MODEL, source, policy);
            passes.add(m == null ? 0 : m.getPasses());
            tokens.add(m == null ? 0 : m.getTokens());
        }
        return String.format(Locale.ROOT, "%d/%d plans (%d records), passes %s, tokens %s under the %d policies",
                outputs.plans(source), expected.plans(), outputs.planRecords(source), range(passes), range(tokens),
                Policies.ALL.size());
    }

    private static String range(java.util.TreeSet<Long> values) {
        return values.size() == 1 ? Long.toString(values.first()) : values.first() + ".." + values.last();
    }

    private static boolean complete(SourceOutputs outputs, String source, Expected expected) {
        if (outputs.plans(source) < expected.plans()) {
            return false;
        }
        for (String policy : Policies.ALL) {
            WaferMetrics m = outputs.totals(MODEL, source, policy);
            if (m == null || m.getPasses() < expected.passes()) {
                return false;
            }
        }
        return true;
    }

    private static boolean exact(SourceOutputs outputs, String source, Expected expected) {
        if (outputs.plans(source) != expected.plans() || outputs.planRecords(source) != expected.plans()) {
            return false;
        }
        for (String policy : Policies.ALL) {
            WaferMetrics m = outputs.totals(MODEL, source, policy);
            if (m == null || m.getPasses() != expected.passes() || m.getTokens() != expected.tokens()) {
                return false;
            }
        }
        return true;
    }

    private void replay(String bootstrap, String source, String replayId, double rate) {
        TraceReplayer.replay(new ReplayOptions(bootstrap, settings.traces(), settings.batch(), rate, settings.limit(),
                true, 256, replayId, 5, source), null);
    }

    private Process startStages(String bootstrap, String name, String instance) throws Exception {
        Path stdout = work.resolve("stages-" + name + ".out");
        Process p = launch(List.of("chaos", "stages", "--bootstrap", bootstrap, "--state-dir",
                work.resolve("stages-" + name).toString(), "--prefix", PREFIX, "--instance", instance), stdout,
                work.resolve("stages-" + name + ".log"));
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (!(Files.exists(stdout) && Files.readString(stdout).contains("RUNNING"))) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("stage instance " + name + " did not start; see "
                        + work.resolve("stages-" + name + ".log"));
            }
            Thread.sleep(200);
        }
        return p;
    }

    /** The launcher's main in a JVM of its own, with this JVM's classpath. */
    private Process launch(List<String> args, Path stdout, Path stderr) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx512m", "io.expertcast.launcher.Main"));
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(stdout.toFile())
                .redirectError(stderr.toFile());
        builder.environment().put("CLASSPATH", classpath);
        Process p = builder.start();
        children.add(p);
        return p;
    }

    private Expected expected() {
        ModelCatalog catalog = ModelCatalog.standard();
        List<RequestTrace> requests = new ArrayList<>();
        Iterator<RequestTrace> it = TraceDataset.open(settings.traces(), catalog).requests(true, new ArrayList<>());
        while (it.hasNext() && (settings.limit() <= 0 || requests.size() < settings.limit())) {
            requests.add(it.next());
        }
        long passes = 0;
        long tokens = 0;
        BatchScheduler scheduler = new BatchScheduler(requests.iterator(), settings.batch(), 256, () -> 0L);
        while (scheduler.hasNext()) {
            ScheduledPass p = scheduler.next();
            passes++;
            tokens += p.pass().getTotalTokens();
        }
        return new Expected(passes, tokens, passes * catalog.byId(MODEL).orElseThrow().numMoeLayers());
    }

    private void say(String line) {
        log.println("chaos: " + line);
        log.flush();
    }

    /** The table: scenario, expected, measured, verdict. */
    static String table(List<Row> rows) {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "%-11s | %s | %s | %s%n", "scenario",
                "expected", "measured", "verdict"));
        for (Row r : rows) {
            s.append(String.format(Locale.ROOT, "%-11s | %s | %s | %s%n", r.scenario(), r.expected(), r.measured(),
                    r.passed() ? "pass" : "FAIL"));
        }
        return s.toString();
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        // A cluster of a previous run still up would lose its data under it: refuse.
        new LocalCluster(dir, 3, 1, 2, "", List.of()).nodes().forEach(LocalBroker::requireNotRunning);
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
