package io.expertcast.offline;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticCalibrator;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.core.trace.DatasetWriter;
import io.expertcast.core.trace.JsonLinesTraces;
import io.expertcast.core.trace.RequestTrace;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code expertcast synth}: calibrated synthetic traces (core's {@link SyntheticTraceGenerator}) in the
 * dataset's format or as JSON lines; {@code --calibrate} re-fits a model's mixing weights.
 */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = "Write calibrated synthetic expert-selection traces (dataset layout or JSON lines).")
public final class SynthCommand implements Callable<Integer> {

    enum Format { dataset, jsonl }

    @Option(names = "--model", required = true,
            description = "deepseek-v3, qwen3-235b, llama4-maverick, kimi-k2, or a shape id:layers:moeLayers:experts:k[:hidden:intermediate].")
    String model;

    @Option(names = "--requests", defaultValue = "100", description = "Number of requests (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--seed", defaultValue = "1", description = "Seed; the same seed gives the same trace (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", description = "Output folder (dataset layout: <out>/synthetic/<model>/...) or file (--format jsonl).")
    Path out;

    @Option(names = "--format", defaultValue = "dataset", description = "dataset or jsonl (default ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--calibrate", description = "Fit the model's mixing weights to the paper's figures (--requests per trial) and print them.")
    boolean calibrate;

    @Override
    public Integer call() {
        ModelShape shape;
        try {
            shape = ModelCatalog.standard().resolve(model);
        } catch (IllegalArgumentException e) {
            System.err.println("synth: " + e.getMessage());
            return 2;
        }
        if (requests <= 0) {
            System.err.println("synth: --requests must be positive");
            return 2;
        }
        if (calibrate) {
            SyntheticCalibrator.Targets targets = SyntheticCalibrator.paperTargets(shape.id());
            if (targets == null) {
                System.err.println("synth: the paper gives no figures for " + shape.id() + " to calibrate against");
                return 2;
            }
            SyntheticCalibration fitted = new SyntheticCalibrator(shape, requests, seed)
                    .fit(SyntheticCalibration.of(shape), targets, 2, System.err);
            System.out.print(fitted.toProperties(shape.id()));
            return 0;
        }
        if (out == null) {
            System.err.println("synth: --out is required (or --calibrate)");
            return 2;
        }
        long started = System.nanoTime();
        SyntheticTraceGenerator generator = new SyntheticTraceGenerator(shape, SyntheticCalibration.of(shape), seed);
        long tokens = 0;
        try {
            Iterator<RequestTrace> it = generator.requests(requests);
            if (format == Format.jsonl) {
                if (out.getParent() != null) {
                    Files.createDirectories(out.getParent());
                }
                try (BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
                    while (it.hasNext()) {
                        RequestTrace r = it.next();
                        tokens += r.prefillTokens() + r.numDecodeSteps();
                        JsonLinesTraces.write(r, w);
                    }
                }
            } else {
                DatasetWriter writer = new DatasetWriter(out, "synthetic");
                if (ModelCatalog.standard().byId(shape.id()).isEmpty()) {
                    writer.writeShape(shape, model);
                }
                while (it.hasNext()) {
                    RequestTrace r = it.next();
                    tokens += r.prefillTokens() + r.numDecodeSteps();
                    writer.write(r);
                }
            }
        } catch (IOException | UncheckedIOException e) {
            System.err.println("synth: cannot write " + out + ": " + e.getMessage());
            return 1;
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.printf(Locale.ROOT, "synth: %d %s requests (%d tokens, seed %d) written to %s in %.1f s%n",
                requests, shape.id(), tokens, seed, format == Format.jsonl ? out : out.resolve("synthetic"), seconds);
        return 0;
    }
}
