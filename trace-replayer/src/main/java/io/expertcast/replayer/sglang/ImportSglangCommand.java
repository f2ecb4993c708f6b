package io.expertcast.replayer.sglang;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.LogicalCountFile;
import io.expertcast.core.trace.DatasetWriter;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.replayer.ReplayOptions;
import io.expertcast.replayer.ReplaySummary;
import io.expertcast.replayer.TraceReplayer;
import io.expertcast.core.trace.source.TraceSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.connect.KafkaConnection;
import io.expertcast.streams.connect.PreflightException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import io.expertcast.core.sglang.LogicalCounts;
import io.expertcast.core.sglang.PerTokenSplitter;
import io.expertcast.core.sglang.RecorderDump;

/**
 * {@code expertcast import-sglang}: SGLang expert distribution recorder dumps to requests (per_token)
 * and load statistics (per_pass, stat, logical_count JSON), written in the dataset's layout or
 * replayed into Kafka. Everything is read and checked before anything is written, so a bad file
 * leaves no half-written output.
 */
@Command(name = "import-sglang", mixinStandardHelpOptions = true,
        description = "Import SGLang expert-distribution dumps (.pt per_token/per_pass/stat, logical_count JSON).")
public final class ImportSglangCommand implements Callable<Integer> {

    @Option(names = "--dump-dir", required = true, description = "Folder of expert_distribution_recorder_*.pt (and *.json) files.")
    Path dumpDir;

    @Option(names = "--out", description = "Write requests here (dataset layout: <out>/sglang/<model>/sglang-dump/<dump>/<n>.json) "
            + "and load statistics as <out>/<dump>.logical_count.json.")
    Path out;

    @Option(names = "--replay", description = "Replay the recovered requests into Kafka instead of writing them.")
    boolean replay;

    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--batch", defaultValue = "32", description = "Requests per batch for --replay (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--model", description = "Catalog id or shape id:layers:moeLayers:experts:k (default: inferred from the dump).")
    String model;

    @Override
    public Integer call() {
        if (out == null == !replay) {
            System.err.println("import-sglang: give exactly one of --out DIR or --replay");
            return 2;
        }
        List<Path> files;
        try (Stream<Path> list = Files.list(dumpDir)) {
            files = list.filter(p -> p.toString().endsWith(".pt") || p.toString().endsWith(".json"))
                    .sorted(Comparator.comparing(Path::toString)).toList();
        } catch (IOException e) {
            System.err.println("import-sglang: cannot list " + dumpDir + ": " + e.getMessage());
            return 2;
        }
        if (files.isEmpty()) {
            System.err.println("import-sglang: no .pt or .json files in " + dumpDir);
            return 2;
        }
        List<RequestTrace> requests = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        List<Object[]> counts = new ArrayList<>(); // [name, long[][]]
        Map<Long, String> perTokenSeen = new HashMap<>();
        try {
            for (Path file : files) {
                String name = file.getFileName().toString().replaceFirst("\\.(pt|json)$", "");
                if (file.toString().endsWith(".json")) {
                    long[][] c = LogicalCountFile.read(file);
                    counts.add(new Object[] {name, c});
                    lines.add(file.getFileName() + ": logical_count JSON, " + c.length + " layers x " + c[0].length
                            + " experts (load statistics, no token sequence)");
                    continue;
                }
                RecorderDump dump = RecorderDump.read(file);
                if (dump instanceof RecorderDump.PerToken pt) {
                    // Without DP attention every rank selects experts for the same tokens, so the ranks'
                    // files are copies: import the tokens once.
                    String copyOf = perTokenSeen.putIfAbsent(pt.contentHash(), file.getFileName().toString());
                    if (copyOf != null) {
                        lines.add(file.getFileName() + ": per_token, the same passes and tokens as " + copyOf
                                + " (another rank of a tensor-parallel group); imported once");
                        continue;
                    }
                    ModelShape shape = shape(pt);
                    PerTokenSplitter.Result r = PerTokenSplitter.split(pt, shape, name);
                    requests.addAll(r.requests());
                    PerTokenSplitter.Report rep = r.report();
                    lines.add(String.format("%s: per_token, %d passes -> %d requests of %s (%d MoE layers, k=%d, E=%d)",
                            file.getFileName(), rep.passes(), rep.requests(), shape.id(), shape.numMoeLayers(),
                            shape.topK(), shape.numExperts()));
                    lines.add(String.format("  recovered: %d chunked-prefill continuations, %d requests whose prefill"
                                    + " began after a cached prefix (only computed tokens are recorded), %d still"
                                    + " running at the end of the window", rep.chunkedContinuations(),
                            rep.cachedPrefixStarts(), rep.openAtEnd()));
                    lines.add(String.format("  not recovered: %d position matches ambiguous (taken in admission order),"
                                    + " %d decode tokens continuing no request of the window (dropped), %d requests"
                                    + " dropped, %d passes of other forward modes skipped", rep.ambiguousMatches(),
                            rep.droppedTokens(), rep.droppedRequests(), rep.skippedPasses()));
                    rep.notes().forEach(n -> lines.add("  " + n));
                    counts.add(new Object[] {name, LogicalCounts.fromRecords(pt.records(), pt.physicalToLogical(), file)});
                } else if (dump instanceof RecorderDump.PerPass pp) {
                    counts.add(new Object[] {name, LogicalCounts.fromRecords(pp.records(), pp.physicalToLogical(), file)});
                    lines.add(file.getFileName() + ": per_pass, " + pp.records().size()
                            + " passes: counts only, no request can be recovered; " + loadNote(name));
                } else if (dump instanceof RecorderDump.Stat st) {
                    counts.add(new Object[] {name, LogicalCounts.fromStat(st.logicalCount())});
                    lines.add(file.getFileName() + ": stat, a ring buffer of " + st.logicalCount().dim(0)
                            + " passes summed: counts only; " + loadNote(name));
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("import-sglang: " + e.getMessage());
            return 2;
        }
        lines.forEach(System.out::println);
        try {
            if (replay) {
                if (requests.isEmpty()) {
                    System.err.println("import-sglang: no per_token dump, so no requests to replay");
                    return 2;
                }
                BrokerPreflight.requirePipelineTopics(kafka);
                ReplaySummary summary = TraceReplayer.replay(new ReplayOptions(kafka.bootstrap(), null, batch, 0, 0, false,
                        256, null, 0, kafka.clientProperties()), List.of(TraceSource.of(requests, "sglang " + dumpDir)), null);
                System.out.print(summary.format());
                return 0;
            }
            Files.createDirectories(out); // every input kind writes here, not only per_token's dataset tree
            DatasetWriter writer = new DatasetWriter(out, "sglang");
            for (RequestTrace r : requests) {
                if (ModelCatalog.standard().byId(r.model().id()).isEmpty()
                        && !Files.exists(writer.modelFolder(r.model()).resolve("model-shape.txt"))) {
                    writer.writeShape(r.model(), shapeSpec(r.model()));
                }
                writer.write(r);
            }
            for (Object[] c : counts) {
                LogicalCountFile.write((long[][]) c[1], out.resolve(c[0] + ".logical_count.json"));
            }
            System.out.println("import-sglang: " + requests.size() + " requests and " + counts.size()
                    + " logical_count files written under " + out);
            requests.stream().map(r -> r.model()).filter(m -> ModelCatalog.standard().byId(m.id()).isEmpty())
                    .map(ModelCatalog::formatShape).distinct().forEach(spec -> System.out.println("model "
                            + spec.substring(0, spec.indexOf(':')) + " is not in the standard catalog: replay reads its "
                            + "shape from the written model-shape.txt; start predictor, allocator and emulator with "
                            + "--model-shape " + spec));
            return 0;
        } catch (IOException | UncheckedIOException e) {
            System.err.println("import-sglang: cannot write: " + e.getMessage());
            return 1;
        } catch (IllegalStateException | PreflightException e) {
            System.err.println("import-sglang: " + e.getMessage());
            return 1;
        }
    }

    private String loadNote(String name) {
        return out == null ? "load statistics are not replayed (use --out to write them for place --load)"
                : "load statistics -> " + out.resolve(name + ".logical_count.json") + " (for place --load)";
    }

    private ModelShape shape(RecorderDump.PerToken dump) throws IOException {
        ModelShape inferred = PerTokenSplitter.inferShape(dump, "sglang-model");
        if (model == null) {
            return inferred;
        }
        ModelShape given = model.contains(":") ? ModelCatalog.parseShape(model) : ModelCatalog.standard().byId(model)
                .orElseThrow(() -> new IllegalArgumentException("unknown model " + model));
        if (given.numLayers() != inferred.numLayers() || given.topK() < inferred.topK()
                || given.numExperts() < inferred.numExperts()) {
            throw new IOException(dump.file() + ": the dump has " + inferred.numLayers() + " layers, k=" + inferred.topK()
                    + ", " + inferred.numExperts() + " logical experts; " + given.id() + " does not fit");
        }
        return given;
    }

    private static String shapeSpec(ModelShape m) {
        StringBuilder layers = new StringBuilder();
        for (int l : m.moeLayers()) {
            layers.append(layers.length() == 0 ? "" : ",").append(l);
        }
        return m.id() + ":" + m.numLayers() + ":" + layers + ":" + m.numExperts() + ":" + m.topK();
    }
}
