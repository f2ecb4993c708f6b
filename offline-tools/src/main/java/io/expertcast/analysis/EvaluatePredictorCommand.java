package io.expertcast.analysis;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.predict.PredictorEvaluation;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.core.trace.TraceFormatException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code expertcast evaluate-predictor}: recall@n of our predictors against the baselines on a trace,
 * offline, with core's {@link PredictorEvaluation} (the protocol is in its Javadoc).
 */
@Command(name = "evaluate-predictor", mixinStandardHelpOptions = true,
        description = "Offline recall@n of the decode-plan and next-token predictors against their baselines.")
public final class EvaluatePredictorCommand implements Callable<Integer> {

    enum Format { text, json }

    @Option(names = "--traces", required = true, description = "Dataset root (<org>/<model>/<benchmark>/<subject>/<index>.json) or any folder inside it.")
    Path traces;

    @Option(names = "--n", split = ",", defaultValue = "1,2,4,8,16", description = "Prediction sizes (default ${DEFAULT-VALUE}).")
    List<Integer> n;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--experts", defaultValue = "0", description = "Routed experts of a model the catalog does not know.")
    int experts;

    @Override
    public Integer call() throws Exception {
        PredictorEvaluation evaluation;
        try {
            evaluation = new PredictorEvaluation(n.stream().mapToInt(Integer::intValue).toArray());
            TraceDataset.open(traces, ModelCatalog.standard(), experts).requests(false, new ArrayList<>())
                    .forEachRemaining(evaluation::add);
        } catch (TraceFormatException | IllegalArgumentException e) {
            System.err.println("evaluate-predictor: " + e.getMessage());
            return 2;
        } catch (UncheckedIOException e) {
            System.err.println("evaluate-predictor: " + e.getMessage());
            return 2;
        }
        PredictorEvaluation.Result r = evaluation.result();
        if (format == Format.json) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("n", r.n());
            json.put("decode_plan", rounded(r.decodePlan()));
            json.put("next_token", rounded(r.nextToken()));
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(json));
            return 0;
        }
        System.out.printf(Locale.ROOT, "%d requests; recall@n over %d (request, decode step, MoE layer) samples%n",
                r.requests(), r.nextTokenSamples());
        print("decode plan (at the end of prefill)", r.n(), r.decodePlan());
        print("next token (from everything before the step)", r.n(), r.nextToken());
        return 0;
    }

    private static void print(String title, int[] ns, Map<String, double[]> rows) {
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "%-20s", title.length() > 20 ? "" : title));
        System.out.println(title);
        header.setLength(0);
        header.append(String.format(Locale.ROOT, "  %-18s", "predictor"));
        for (int n : ns) {
            header.append(String.format(Locale.ROOT, "%8s", "@" + n));
        }
        System.out.println(header);
        rows.forEach((name, values) -> {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %-18s", name));
            for (double v : values) {
                line.append(String.format(Locale.ROOT, "%8.4f", v));
            }
            System.out.println(line);
        });
    }

    private static Map<String, double[]> rounded(Map<String, double[]> rows) {
        Map<String, double[]> out = new LinkedHashMap<>();
        rows.forEach((k, v) -> out.put(k, java.util.Arrays.stream(v).map(x -> Math.round(x * 1e6) / 1e6).toArray()));
        return out;
    }
}
