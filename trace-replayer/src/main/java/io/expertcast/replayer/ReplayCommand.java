package io.expertcast.replayer;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.TraceFormatException;
import io.expertcast.core.trace.source.DatasetSource;
import io.expertcast.core.trace.source.JsonLinesSource;
import io.expertcast.core.trace.source.SyntheticSource;
import io.expertcast.core.trace.source.TraceSource;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.connect.KafkaConnection;
import io.expertcast.streams.connect.PreflightException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code expertcast replay}: a trace folder into moe.selections and moe.passes. */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Replay trace folders (the paper's dataset layout), JSON-lines files and synthetic runs into "
                + "Kafka in lockstep batches, one source after the other.")
public final class ReplayCommand implements Callable<Integer> {

    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--traces", description = "Dataset root (<org>/<model>/<benchmark>/<subject>/<index>.json) or any "
            + "folder inside it (repeatable).")
    List<Path> traces = new ArrayList<>();

    @Option(names = "--jsonl", description = "A JSON-lines trace file, one step per line (repeatable; docs/traces.md).")
    List<Path> jsonl = new ArrayList<>();

    @Option(names = "--synth", description = "Calibrated synthetic requests of a model: catalog id or shape (repeatable).")
    List<String> synth = new ArrayList<>();

    @Option(names = "--requests", defaultValue = "1000", description = "Requests per --synth model (default ${DEFAULT-VALUE}).")
    int synthRequests;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the synthetic generator (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--replay-id", description = "Name of a resumable replay: sends are transactional with a checkpoint on "
            + "moe.replay-checkpoints; running the same command again after an interruption continues without sending any step twice.")
    String replayId;

    @Option(names = "--source", description = "Source id stamped on every record (the engine instance this replay stands for; "
            + "letters, digits and . _ - : @). Passes are identified by model, source and pass id, so replays of "
            + "different sources at once are planned and emulated apart. Default: the --replay-id, else a generated id (printed).")
    String source;

    @Option(names = "--checkpoint-passes", defaultValue = "50", description = "Passes per transaction and checkpoint of a --replay-id replay (default ${DEFAULT-VALUE}).")
    int checkpointPasses;

    @Option(names = "--batch", defaultValue = "32", description = "Requests per batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--rate", defaultValue = "max", converter = RateConverter.class,
            description = "Tokens per second, or max (default ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--step-ms", defaultValue = "0", description = "An engine's pace: forward passes at least this "
            + "many ms apart (a decode step of a large MoE model: 20-50 ms); 0: no pace (default ${DEFAULT-VALUE}).")
    double stepMs;

    @Option(names = "--limit", defaultValue = "0", description = "Replay only the first N requests (default: all).")
    int limit;

    @Option(names = "--skip-bad", description = "Skip malformed trace files (counted and listed in the summary).")
    boolean skipBad;

    @Option(names = "--prefill-chunk", defaultValue = "256", description = "Tokens per prefill event (default ${DEFAULT-VALUE}).")
    int prefillChunk;

    @Option(names = "--experts", defaultValue = "0", description = "Routed experts of a model the catalog does not know.")
    int experts;

    @Option(names = "--model-shape", description = "Extra model shape id:layers:moeLayers:experts:k[:hidden:intermediate].")
    List<String> modelShapes = new ArrayList<>();

    @Override
    public Integer call() {
        if (batch <= 0 || prefillChunk <= 0 || checkpointPasses <= 0) {
            System.err.println("replay: --batch, --prefill-chunk and --checkpoint-passes must be positive");
            return 2;
        }
        ModelCatalog catalog = ModelCatalog.standard();
        try {
            for (String spec : modelShapes) {
                catalog.register(ModelCatalog.parseShape(spec));
            }
            List<TraceSource> sources = new ArrayList<>();
            for (Path t : traces) {
                sources.add(new DatasetSource(t, catalog, experts));
            }
            for (Path f : jsonl) {
                sources.add(new JsonLinesSource(f, catalog));
            }
            for (String model : synth) {
                sources.add(new SyntheticSource(catalog.resolve(model), synthRequests, seed));
            }
            if (sources.isEmpty()) {
                System.err.println("replay: give at least one of --traces, --jsonl or --synth");
                return 2;
            }
            ReplayOptions options = new ReplayOptions(kafka.bootstrap(), traces.isEmpty() ? null : traces.get(0), batch,
                    rate, limit, skipBad, prefillChunk, replayId, checkpointPasses, source, stepMs,
                    kafka.clientProperties()).withResolvedSource();
            String problem = io.expertcast.schemas.Topics.sourceProblem(options.sourceId());
            if (problem != null) { // a usage error: said before looking for the broker
                System.err.println("replay: --source: " + problem);
                return 2;
            }
            BrokerPreflight.requirePipelineTopics(kafka);
            System.err.println("replay: source id " + options.sourceId());
            ReplaySummary summary = replayUntilStopped(options, sources);
            if (summary.interrupted()) {
                return 1; // (the summary is out; the JVM exits with the signal's status)
            }
            System.out.print(summary.format());
            return 0;
        } catch (TraceFormatException | IllegalArgumentException e) {
            System.err.println("replay: " + e.getMessage()
                    + (e instanceof TraceFormatException ? " (nothing of this request was sent; --skip-bad skips such files)" : ""));
            return 2;
        } catch (IllegalStateException | PreflightException | java.io.UncheckedIOException e) {
            System.err.println("replay: " + e.getMessage());
            return 1;
        }
    }

    /**
     * Replays; a SIGTERM or Ctrl-C stops it after the pass being sent, and the summary of what was sent is
     * printed before the JVM exits (the shutdown hook waits for it, at most 50 s).
     */
    private static ReplaySummary replayUntilStopped(ReplayOptions options, List<TraceSource> sources) {
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch printed = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop.set(true);
            try {
                printed.await(50, TimeUnit.SECONDS); // a loaded broker may take a while to commit the checkpoint
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "replay-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            ReplaySummary summary = TraceReplayer.replay(options, sources, System.console() != null ? System.err : null,
                    stop::get);
            if (summary.interrupted()) {
                // The JVM is exiting: print here, the caller's print may not be reached before the hook returns.
                System.out.print(summary.format());
                System.out.println(options.replayId() == null
                        ? "the rest was not sent (a --replay-id replay resumes where it stopped)"
                        : "run the same command again to continue replay " + options.replayId());
                System.out.flush();
            }
            return summary;
        } finally {
            printed.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs: it returns now that the summary is out
            }
        }
    }

    /** "max" or a positive number of tokens per second. */
    static final class RateConverter implements ITypeConverter<Double> {
        @Override
        public Double convert(String value) {
            if (value.equalsIgnoreCase("max")) {
                return 0.0;
            }
            double rate = Double.parseDouble(value);
            if (!(rate > 0)) {
                throw new IllegalArgumentException("--rate must be positive or max, got " + value);
            }
            return rate;
        }
    }
}
