package io.expertcast.analysis;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.expertcast.core.analysis.ObservationReport;
import io.expertcast.core.analysis.Phase;
import io.expertcast.core.analysis.TraceObservations;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.placement.PairCountFile;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.core.trace.TraceFormatException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code expertcast analyze}: the paper's observations Ob1-Ob5 on any trace in the dataset's format,
 * with issue 3's definitions (core's {@link TraceObservations}), as text or JSON, and optionally a
 * report folder with heatmap PNGs and an HTML page.
 */
@Command(name = "analyze", mixinStandardHelpOptions = true,
        description = "Compute the paper's trace observations (Ob1-Ob5) on a trace folder in the dataset's format.")
public final class AnalyzeCommand implements Callable<Integer> {

    enum Format { text, json }

    @Option(names = "--traces", required = true, description = "Dataset root (<org>/<model>/<benchmark>/<subject>/<index>.json) "
            + "or any folder inside it.")
    Path traces;

    @Option(names = "--phase", defaultValue = "decode",
            description = "Tokens the transition, hot-expert and pair figures are taken over: decode or prefill (default ${DEFAULT-VALUE}).")
    String phase;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--report", description = "Write heatmap PNGs (the paper's Figs. 4-5) and index.html into this folder.")
    Path report;

    @Option(names = "--report-layers", split = ",",
            description = "MoE layer indices to draw in the report, 0..(MoE layers - 1), numbered as the pipeline's "
                    + "records and /tables number them (default: the first, middle and last).")
    List<Integer> reportLayers = new ArrayList<>();

    @Option(names = "--experts", defaultValue = "0",
            description = "Routed experts of a model the catalog does not know (default: the largest id seen + 1).")
    int experts;

    @Option(names = "--pairs-out", paramLabel = "FILE", description = "Also write the per-layer expert co-activation "
            + "counts of the chosen phase's tokens (Insight 5) for place --policy pair-separate --pairs (one model per folder).")
    Path pairsOut;

    @Option(names = "--model-shape", description = "Extra model shape id:layers:moeLayers:experts:k[:hidden:intermediate].")
    List<String> modelShapes = new ArrayList<>();

    @Override
    public Integer call() {
        Phase chosen;
        try {
            chosen = Phase.valueOf(phase.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            System.err.println("analyze: --phase must be decode or prefill, got " + phase);
            return 2;
        }
        ModelCatalog catalog = ModelCatalog.standard();
        Map<String, TraceObservations> byModel = new LinkedHashMap<>();
        Map<String, PairCountFile> pairs = new LinkedHashMap<>();
        long started = System.nanoTime();
        try {
            for (String spec : modelShapes) {
                catalog.register(ModelCatalog.parseShape(spec));
            }
            TraceDataset dataset = TraceDataset.open(traces, catalog, experts);
            Iterator<RequestTrace> requests = dataset.requests(false, new ArrayList<>());
            while (requests.hasNext()) {
                RequestTrace r = requests.next();
                byModel.computeIfAbsent(r.model().id(), id -> {
                    if (report != null) {
                        ObservationReportPage.check(reportLayers, r.model()); // before the analysis, not after it
                    }
                    return new TraceObservations(r.model(), chosen);
                }).add(r);
                if (pairsOut != null) {
                    pairs.computeIfAbsent(r.model().id(), id -> PairCountFile.empty(r.model())).add(r, chosen == Phase.DECODE);
                }
            }
        } catch (TraceFormatException | IllegalArgumentException e) {
            System.err.println("analyze: " + e.getMessage());
            return 2;
        } catch (UncheckedIOException e) {
            System.err.println("analyze: " + e.getMessage() + ": " + e.getCause().getMessage());
            return 2;
        }
        List<ObservationReport> reports = byModel.values().stream().map(TraceObservations::report).toList();
        double seconds = (System.nanoTime() - started) / 1e9;
        try {
            if (format == Format.json) {
                ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                Object out = reports.size() == 1 ? reports.get(0).toJson()
                        : Map.of("models", reports.stream().map(ObservationReport::toJson).toList());
                System.out.println(json.writeValueAsString(out));
            } else {
                for (ObservationReport r : reports) {
                    System.out.print(r.toText());
                }
                System.out.printf(java.util.Locale.ROOT, "(%d files in %.1f s)%n", reports.stream()
                        .mapToLong(ObservationReport::requests).sum(), seconds);
            }
            if (pairsOut != null) {
                if (pairs.size() != 1) {
                    throw new IllegalArgumentException("--pairs-out needs the traces of one model, the folder has "
                            + pairs.keySet());
                }
                pairs.values().iterator().next().write(pairsOut);
                System.err.println("analyze: pair counts written to " + pairsOut);
            }
            if (report != null) {
                Path index = new ObservationReportPage(report, reportLayers).write(new ArrayList<>(byModel.values()));
                System.err.println("analyze: report written to " + index);
            }
        } catch (IllegalArgumentException e) {
            System.err.println("analyze: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            System.err.println("analyze: cannot write: " + e.getMessage());
            return 1;
        }
        return 0;
    }
}
