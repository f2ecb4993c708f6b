package io.expertcast.offline;

import io.expertcast.core.wafer.PrefetchShape;
import io.expertcast.core.wafer.PrefetchSource;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.core.wafer.Policies;
import io.expertcast.core.wafer.PolicyTotals;
import io.expertcast.core.trace.source.DatasetSource;
import io.expertcast.core.trace.source.SyntheticSource;
import io.expertcast.core.trace.source.TraceSource;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code expertcast simulate}: the paper-style table, offline. Decode-only batches filled with the
 * source's requests in dataset order, every policy side by side on the same passes, throughput and
 * hop count against Base.
 */
@Command(name = "simulate", mixinStandardHelpOptions = true,
        description = "Offline wafer emulation of a trace folder or synthetic requests: Base, EP, Allo, Pred and "
                + "Allo+Pred side by side per model, mesh and batch size (no Kafka).")
public final class SimulateCommand implements Callable<Integer> {

    static final class Input {
        @Option(names = "--traces", description = "A folder in the dataset's layout (e.g. data/sample).")
        Path traces;

        @Option(names = "--synth", description = "Calibrated synthetic requests of this model id (e.g. deepseek-v3).")
        String synth;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--requests", description = "Synthetic requests (default: the largest batch).")
    Integer requests;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the synthetic requests (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--mesh", defaultValue = "dojo-5x5", split = ",",
            description = "Hardware presets (" + "dojo-5x5, tsmc-sow-8x3, dojo-enhanced) or properties files (default ${DEFAULT-VALUE}).")
    List<String> meshes;

    @Option(names = "--batch", defaultValue = "4096", split = ",", description = "Decode tokens per pass (default ${DEFAULT-VALUE}).")
    List<Integer> batches;

    @Option(names = "--policies", defaultValue = "base,ep,allo,pred,allo+pred", split = ",",
            description = "Policies (default ${DEFAULT-VALUE}).")
    List<String> policies;

    @Option(names = "--passes", defaultValue = "0", description = "Passes per mesh and batch; 0: until the requests run out (default ${DEFAULT-VALUE}).")
    int passes;

    @Option(names = "--limit", defaultValue = "0", description = "Only the first N requests of --traces (default: all).")
    int limit;

    @Option(names = "--bytes-per-param", description = "Expert weight precision for every model: 2 = BF16 (catalog default), 1 = FP8, 0.5 = 4-bit.")
    Double bytesPerParam;

    @Option(names = "--pred-n", defaultValue = "" + EmulatorSettings.DEFAULT_PREDICT_N,
            description = "Top-n heatmap successors per selected expert for the Pred policies (default ${DEFAULT-VALUE}).")
    int predictN;

    @Option(names = "--prefetch-shape", defaultValue = "on-wafer", split = ",",
            description = "Shape(s) of the Pred policies' forecast, side by side: on-wafer (the paper's predictor on the "
                    + "wafer, marking this pass's reads), per-request (the live predictor's NEXT_TOKEN commands), "
                    + "per-pass (one command: the union of the top-n successors of the previous pass's experts), "
                    + "per-pass-blended (one command: the union of the previous pass's per-request forecasts), "
                    + "per-die (per-pass cut per die to the experts it reads remotely) (default ${DEFAULT-VALUE}).")
    List<String> prefetchShapes;

    @Option(names = "--format", defaultValue = "table", description = "table or json (default ${DEFAULT-VALUE}).")
    String format;

    @Override
    public Integer call() throws Exception {
        ModelCatalog catalog = ModelCatalog.standard();
        List<HardwareConfig> hardware = new ArrayList<>();
        Supplier<TraceSource> source;
        List<PrefetchShape> shapes = new ArrayList<>();
        try {
            for (String s : prefetchShapes) {
                shapes.add(PrefetchShape.of(s));
            }
            if (!format.equals("table") && !format.equals("json")) {
                throw new IllegalArgumentException("--format must be table or json, got " + format);
            }
            for (String p : policies) {
                Policies.of(p, List.of());
            }
            for (int b : batches) {
                if (b <= 0) {
                    throw new IllegalArgumentException("--batch must be positive, got " + b);
                }
            }
            if (bytesPerParam != null) {
                if (!(bytesPerParam > 0)) {
                    throw new IllegalArgumentException("--bytes-per-param must be positive, got " + bytesPerParam);
                }
                for (ModelShape m : catalog.all().values()) {
                    catalog.register(m.withBytesPerParam(bytesPerParam));
                }
            }
            for (String m : meshes) {
                hardware.add(HardwareConfig.load(m));
            }
            int largest = batches.stream().mapToInt(Integer::intValue).max().orElse(1);
            if (input.synth != null) {
                ModelShape model = catalog.byId(input.synth).orElseThrow(() -> new IllegalArgumentException(
                        "unknown model '" + input.synth + "', known: " + catalog.all().keySet()));
                int n = requests == null ? largest : requests;
                source = () -> new SyntheticSource(model, n, seed);
            } else {
                if (!Files.isDirectory(input.traces)) {
                    throw new IllegalArgumentException("--traces " + input.traces + " is not a folder");
                }
                Path root = input.traces;
                source = () -> limited(new DatasetSource(root, catalog, 0), limit);
                source.get(); // a folder without traces fails here, before any work
            }
            new EmulatorSettings(catalog, hardware.get(0), policies, "simulate", predictN, PrefetchSource.IN_PROCESS);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            System.err.println("simulate: " + e.getMessage());
            return 2;
        }
        Simulation.Result result;
        try {
            result = new Simulation(catalog, policies, predictN, passes, shapes).run(hardware, batches, source);
        } catch (IllegalArgumentException e) { // e.g. a model that does not fit the wafer's HBM
            System.err.println("simulate: " + e.getMessage());
            return 2;
        }
        if (format.equals("json")) {
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            System.out.println(json.writeValueAsString(Map.of("rows", jsonRows(result.rows()))));
        } else {
            printTable(result, System.out);
        }
        return 0;
    }

    private static TraceSource limited(TraceSource source, int limit) {
        if (limit <= 0) {
            return source;
        }
        return new TraceSource() {
            @Override
            public java.util.Iterator<io.expertcast.core.trace.RequestTrace> requests(boolean skipBad, List<String> skipped) {
                var it = source.requests(skipBad, skipped);
                return new java.util.Iterator<>() {
                    int taken;

                    @Override
                    public boolean hasNext() {
                        return taken < limit && it.hasNext();
                    }

                    @Override
                    public io.expertcast.core.trace.RequestTrace next() {
                        taken++;
                        return it.next();
                    }
                };
            }

            @Override
            public int size() {
                return Math.min(limit, source.size());
            }

            @Override
            public String describe() {
                return source.describe() + " (first " + limit + ")";
            }
        };
    }

    /** The JSON shape, one object per (model, mesh, batch, policy), plus the detail figures. */
    public static List<Map<String, Object>> jsonRows(List<Simulation.Row> rows) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Simulation.Row r : rows) {
            PolicyTotals base = baseOf(rows, r);
            PolicyTotals t = r.totals();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", r.model());
            m.put("mesh", r.mesh());
            m.put("batch", r.batch());
            m.put("policy", r.policy());
            Simulation.Commands c = r.commands();
            m.put("prefetch_shape", c == null ? null : c.shape().label());
            m.put("throughput_tokens_per_s", t.throughputTokensPerS());
            m.put("throughput_vs_base", base == null ? null : t.throughputTokensPerS() / base.throughputTokensPerS());
            m.put("hops", t.hops());
            m.put("hops_reduction_vs_base", base == null || t.hops() == 0 ? null : base.hops() / (double) t.hops());
            m.put("passes", t.passes());
            m.put("tokens", t.tokens());
            m.put("moe_time_ns", t.moeNs());
            m.put("bound_ns", t.boundNs());
            m.put("time_over_bound", t.timeOverBound());
            m.put("local_reads", t.localReads());
            m.put("remote_reads", t.remoteReads());
            m.put("copy_reads", t.copyReads());
            m.put("copy_writes", t.copyWrites());
            m.put("llc_hit_rate", t.llcHitRate());
            m.put("die_balance", t.dieBalance());
            m.put("link_bytes", t.linkBytes());
            m.put("commands_per_pass", c == null ? null : c.commandsPerPass());
            m.put("command_bytes_per_pass", c == null ? null : c.bytesPerPass());
            m.put("copy_enabled_experts_per_layer", c == null ? null : c.enabledExpertsPerLayer());
            out.add(m);
        }
        return out;
    }

    private static PolicyTotals baseOf(List<Simulation.Row> rows, Simulation.Row r) {
        for (Simulation.Row b : rows) {
            if (b.policy().equals(Policies.BASE) && b.model().equals(r.model()) && b.mesh().equals(r.mesh())
                    && b.batch() == r.batch()) {
                return b.totals();
            }
        }
        return null;
    }

    public static void printTable(Simulation.Result result, PrintStream out) {
        int w = Math.max(10, result.rows().stream().mapToInt(r -> r.label().length()).max().orElse(0));
        out.printf(Locale.ROOT, "%-16s %-14s %6s %-" + w + "s %12s %8s %14s %12s %7s %9s %8s %8s%n", "model", "mesh", "batch",
                "policy", "tokens/s", "vs base", "hops", "hops vs base", "passes", "copies", "balance", "x bound");
        for (Simulation.Row r : result.rows()) {
            PolicyTotals base = baseOf(result.rows(), r);
            PolicyTotals t = r.totals();
            String speed = base == null ? "-" : String.format(Locale.ROOT, "%.2fx", t.throughputTokensPerS() / base.throughputTokensPerS());
            String hops = base == null ? "-" : t.hops() == 0 ? "no hops"
                    : String.format(Locale.ROOT, "%.1fx", base.hops() / (double) t.hops());
            out.printf(Locale.ROOT, "%-16s %-14s %6d %-" + w + "s %12.0f %8s %14d %12s %7d %9d %8.2f %8.3f%n", r.model(), r.mesh(),
                    r.batch(), r.label(), t.throughputTokensPerS(), speed, t.hops(), hops, t.passes(), t.copyWrites(),
                    t.dieBalance(), t.timeOverBound());
        }
        if (result.rows().stream().anyMatch(r -> r.commands() != null && r.commands().shape() != PrefetchShape.ON_WAFER)) {
            out.printf(Locale.ROOT, "%nPrefetch commands (ids and scores as uint16, as PrefetchCommand v2 packs them)%n");
            out.printf(Locale.ROOT, "%-16s %-14s %6s %-" + w + "s %13s %14s %16s %9s %11s %8s%n", "model", "mesh", "batch",
                    "policy", "commands/pass", "bytes/pass", "enabled/layer", "copies", "copy reads", "llc hit");
            for (Simulation.Row r : result.rows()) {
                Simulation.Commands c = r.commands();
                if (c == null) {
                    continue;
                }
                PolicyTotals t = r.totals();
                out.printf(Locale.ROOT, "%-16s %-14s %6d %-" + w + "s %13.1f %14.0f %16.1f %9d %11d %8.4f%n", r.model(), r.mesh(),
                        r.batch(), r.label(), c.commandsPerPass(), c.bytesPerPass(), c.enabledExpertsPerLayer(),
                        t.copyWrites(), t.copyReads(), t.llcHitRate());
            }
        }
        out.printf(Locale.ROOT, "%d token-layer steps emulated in %.1f s (%.2fM steps/s in the emulator, one thread); wall %.1f s%n",
                result.tokenLayerSteps(), result.emulateNanos() / 1e9,
                result.tokenLayerSteps() / (result.emulateNanos() / 1e9) / 1e6, result.wallNanos() / 1e9);
    }
}
