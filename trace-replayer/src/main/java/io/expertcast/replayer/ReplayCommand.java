package io.expertcast.replayer;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.TraceFormatException;
import io.expertcast.replayer.source.DatasetSource;
import io.expertcast.replayer.source.JsonLinesSource;
import io.expertcast.replayer.source.SyntheticSource;
import io.expertcast.replayer.source.TraceSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/** {@code expertcast replay}: a trace folder into moe.selections and moe.passes. */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Replay trace folders (the paper's dataset layout), JSON-lines files and synthetic runs into "
                + "Kafka in lockstep batches, one source after the other.")
public final class ReplayCommand implements Callable<Integer> {

    @Option(names = "--bootstrap", defaultValue = "127.0.0.1:9092", description = "Kafka bootstrap servers (default ${DEFAULT-VALUE}).")
    String bootstrap;

    @Option(names = "--traces", description = "Dataset root: <org>/<model>/<benchmark>/<subject>/<index>.json (repeatable).")
    List<Path> traces = new ArrayList<>();

    @Option(names = "--jsonl", description = "A JSON-lines trace file, one step per line (repeatable; README).")
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
                sources.add(new SyntheticSource(SynthCommand.model(model, catalog), synthRequests, seed));
            }
            if (sources.isEmpty()) {
                System.err.println("replay: give at least one of --traces, --jsonl or --synth");
                return 2;
            }
            ReplayOptions options = new ReplayOptions(bootstrap, traces.isEmpty() ? null : traces.get(0), batch, rate,
                    limit, skipBad, prefillChunk, replayId, checkpointPasses, source).withResolvedSource();
            String problem = io.expertcast.schemas.Topics.sourceProblem(options.sourceId());
            if (problem != null) {
                System.err.println("replay: --source: " + problem);
                return 2;
            }
            System.err.println("replay: source id " + options.sourceId());
            ReplaySummary summary = TraceReplayer.replay(options, sources, System.console() != null ? System.err : null);
            System.out.print(summary.format());
            return 0;
        } catch (TraceFormatException | IllegalArgumentException e) {
            System.err.println("replay: " + e.getMessage()
                    + (e instanceof TraceFormatException ? " (nothing of this request was sent; --skip-bad skips such files)" : ""));
            return 2;
        } catch (IllegalStateException e) {
            System.err.println("replay: " + e.getMessage());
            return 1;
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
