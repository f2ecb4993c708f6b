package io.expertcast.emulator.offline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.core.trace.TraceFormatException;
import io.expertcast.emulator.engine.PolicyTotals;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code expertcast simulate}: the paper-style table of the case study, offline, in-process. */
@Command(name = "simulate", mixinStandardHelpOptions = true,
        description = "Emulate decode batches on a wafer under each policy and print throughput and hops against Base.")
public final class SimulateCommand implements Callable<Integer> {

    enum Format { text, json }

    @Option(names = "--traces", description = "Dataset root (one model).")
    Path traces;

    @Option(names = "--synth", description = "A catalog model for calibrated synthetic requests.")
    String synth;

    @Option(names = "--requests", defaultValue = "0", description = "Synthetic requests (default: 2 x batch).")
    int requests;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the synthetic requests (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--mesh", defaultValue = "dojo-5x5", description = "dojo-5x5, tsmc-sow-8x3, dojo-enhanced or a config file (default ${DEFAULT-VALUE}).")
    String mesh;

    @Option(names = "--batch", split = ",", defaultValue = "4096", description = "Batch sizes in tokens = requests decoding together (default ${DEFAULT-VALUE}).")
    List<Integer> batches;

    @Option(names = "--policies", split = ",", defaultValue = "base,ep,allo,pred,allo+pred", description = "Policies (default ${DEFAULT-VALUE}).")
    List<String> policies;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default ${DEFAULT-VALUE}).")
    Format format;

    @Override
    public Integer call() throws Exception {
        if ((traces == null) == (synth == null)) {
            System.err.println("simulate: give exactly one of --traces DIR or --synth MODEL");
            return 2;
        }
        HardwareConfig hardware;
        ModelShape model;
        try {
            hardware = HardwareConfig.load(mesh);
            model = synth != null ? ModelCatalog.standard().byId(synth).orElseThrow(() -> new IllegalArgumentException(
                    "unknown model " + synth + " (known: " + String.join(", ", ModelCatalog.standard().all().keySet()) + ")"))
                    : firstModel(traces);
            if (!policies.contains("base")) {
                throw new IllegalArgumentException("--policies must include base: every ratio is against it");
            }
        } catch (IllegalArgumentException | TraceFormatException e) {
            System.err.println("simulate: " + e.getMessage());
            return 2;
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int batch : batches) {
            long started = System.nanoTime();
            Map<String, Simulation.Outcome> outcomes;
            try {
                outcomes = new Simulation(model, hardware, batch, policies).run(source(model, batch));
            } catch (IllegalArgumentException | TraceFormatException e) {
                System.err.println("simulate: " + e.getMessage());
                return 2;
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            PolicyTotals base = outcomes.get("base").totals();
            if (base.passes() == 0) {
                System.err.printf("simulate: the requests cannot fill one batch of %d%n", batch);
                return 2;
            }
            for (var entry : outcomes.entrySet()) {
                PolicyTotals t = entry.getValue().totals();
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("model", model.id());
                row.put("mesh", hardware.name());
                row.put("batch", batch);
                row.put("policy", entry.getKey());
                row.put("throughput_tokens_per_s", round(t.throughputTokensPerS()));
                row.put("throughput_vs_base", round(t.throughputTokensPerS() / base.throughputTokensPerS()));
                row.put("hops", t.hops());
                row.put("hops_reduction_vs_base", t.hops() == 0 ? null : round((double) base.hops() / t.hops()));
                row.put("base_row", entry.getKey().equals("base"));
                row.put("passes", t.passes());
                row.put("remote_reads", t.remoteReads());
                row.put("copies", entry.getValue().copies());
                rows.add(row);
            }
            if (format == Format.text) {
                System.out.printf(Locale.ROOT, "%s on %s, batch %d: %d full decode passes (%.1f s)%n", model.id(),
                        hardware.name(), batch, base.passes(), seconds);
                System.out.printf(Locale.ROOT, "  %-10s %14s %9s %12s %10s %9s%n", "policy", "tokens/s", "vs base",
                        "hops", "hops/base", "copies");
                for (Map<String, Object> row : rows.subList(rows.size() - outcomes.size(), rows.size())) {
                    System.out.printf(Locale.ROOT, "  %-10s %14.0f %8.2fx %12d %10s %9d%n", row.get("policy"),
                            (Double) row.get("throughput_tokens_per_s"), (Double) row.get("throughput_vs_base"),
                            (Long) row.get("hops"), Boolean.TRUE.equals(row.get("base_row")) ? "-"
                                    : row.get("hops_reduction_vs_base") == null ? "no hops"
                                    : String.format(Locale.ROOT, "%.1fx less", (Double) row.get("hops_reduction_vs_base")),
                            (Long) row.get("copies"));
                }
            }
        }
        rows.forEach(row -> row.remove("base_row"));
        if (format == Format.json) {
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(Map.of("rows", rows)));
        }
        return 0;
    }

    private Iterator<RequestTrace> source(ModelShape model, int batch) {
        if (synth != null) {
            int n = requests > 0 ? requests : 2 * batch;
            return new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), seed).requests(n);
        }
        return TraceDataset.open(traces, ModelCatalog.standard()).requests(false, new ArrayList<>());
    }

    private static ModelShape firstModel(Path traces) {
        Iterator<RequestTrace> it = TraceDataset.open(traces, ModelCatalog.standard()).requests(false, new ArrayList<>());
        if (!it.hasNext()) {
            throw new IllegalArgumentException("no requests under " + traces);
        }
        return it.next().model();
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
