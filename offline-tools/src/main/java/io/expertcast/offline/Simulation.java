package io.expertcast.offline;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.source.SyntheticSource;
import io.expertcast.core.trace.source.TraceSource;
import io.expertcast.core.wafer.DecodeOnlySource;
import io.expertcast.core.wafer.InProcessForecast;
import io.expertcast.core.wafer.InProcessPlanner;
import io.expertcast.core.wafer.Policies;
import io.expertcast.core.wafer.PrefetchShape;
import io.expertcast.core.wafer.WaferEngine;
import io.expertcast.core.wafer.PassResult;
import io.expertcast.core.wafer.PolicyTotals;
import io.expertcast.core.wafer.PrefetchSource;
import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.emulator.PassEmulator;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.streams.pass.CompletedPass;
import io.expertcast.streams.pass.ScheduledPass;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The offline {@code simulate}: for each mesh and batch size, the requests of a source fill a
 * decode-only batch in source (dataset) order, stepped as the replayer steps them
 * ({@link BatchScheduler}); every pass runs through the same {@link PassEmulator} as the service,
 * with Algorithm 1's plans computed in-process ({@link InProcessPlanner}). No Kafka.
 */
public final class Simulation {
    /**
     * What one policy achieved for one model, mesh and batch size; for a Pred policy also the shape of its
     * forecast and what its commands weighed ({@code commands} null for the other policies).
     */
    public record Row(String model, String mesh, int batch, String policy, PolicyTotals totals, Commands commands) {
        public Row(String model, String mesh, int batch, String policy, PolicyTotals totals) {
            this(model, mesh, batch, policy, totals, null);
        }

        /** The policy, with the forecast's shape when it is not the default one. */
        public String label() {
            return commands == null || commands.shape() == PrefetchShape.ON_WAFER ? policy
                    : policy + "/" + commands.shape().label();
        }
    }

    /**
     * What a Pred policy's forecast of one shape needed, over the run's passes: commands made, their bytes
     * (ids and scores as PrefetchCommand v2 packs them, see {@link InProcessForecast}), and the (MoE layer,
     * expert) cells each pass copy-enabled.
     */
    public record Commands(PrefetchShape shape, long passes, long commands, long payloadBytes, long enabledCells,
                           int moeLayers) {
        public double commandsPerPass() {
            return passes == 0 ? 0 : commands / (double) passes;
        }

        public double bytesPerPass() {
            return passes == 0 ? 0 : payloadBytes / (double) passes;
        }

        /** Experts copy-enabled per MoE layer and pass, on average. */
        public double enabledExpertsPerLayer() {
            return passes == 0 ? 0 : enabledCells / (double) passes / moeLayers;
        }
    }

    /** The rows, plus what the run cost (for the benchmark). */
    public record Result(List<Row> rows, long tokenLayerSteps, long events, long emulateNanos, long wallNanos) {
    }

    private final ModelCatalog catalog;
    private final List<String> policies;
    private final int predictN;
    private final int maxPasses;
    private final List<PrefetchShape> shapes;

    /** @param maxPasses passes per (mesh, batch) run; {@code <= 0}: until the source is drained */
    public Simulation(ModelCatalog catalog, List<String> policies, int predictN, int maxPasses) {
        this(catalog, policies, predictN, maxPasses, List.of(PrefetchShape.ON_WAFER));
    }

    /** With the Pred policies run once per forecast shape, side by side on the same passes. */
    public Simulation(ModelCatalog catalog, List<String> policies, int predictN, int maxPasses,
                      List<PrefetchShape> shapes) {
        if (shapes.isEmpty()) {
            throw new IllegalArgumentException("give at least one prefetch shape");
        }
        this.catalog = catalog;
        this.policies = List.copyOf(policies);
        this.predictN = predictN;
        this.maxPasses = maxPasses;
        this.shapes = List.copyOf(new java.util.LinkedHashSet<>(shapes));
    }

    private EmulatorSettings settings(HardwareConfig hw, List<String> policies) {
        return new EmulatorSettings(catalog, hw, policies, "simulate", predictN, PrefetchSource.IN_PROCESS);
    }

    private static PrefetchShape shapeOf(Map<PrefetchShape, PassEmulator> emulators, PassEmulator emulator) {
        return emulators.entrySet().stream().filter(e -> e.getValue() == emulator).findFirst().orElseThrow().getKey();
    }

    /**
     * What the shape's commands weighed. Per die, a command carries for each MoE layer the experts of the
     * per-pass union that die reads remotely: the policy's engine counted those reads; a die that reads none
     * gets no command.
     */
    private static Commands commands(PrefetchShape shape, PassEmulator emulator, String model, String policy) {
        InProcessForecast forecast = emulator.inProcessForecast(model);
        InProcessForecast.CommandTotals t = forecast.totals();
        int layers = forecast.model().numMoeLayers();
        if (shape != PrefetchShape.PER_DIE) {
            return new Commands(shape, t.passes(), t.commands(), t.payloadBytes(), t.enabledCells(), layers);
        }
        WaferEngine engine = emulator.engine(model, policy);
        return new Commands(shape, t.passes(), engine.enabledDiePasses(),
                engine.enabledRemoteReads() * InProcessForecast.BYTES_PER_ID
                        + engine.enabledDieLayers() * InProcessForecast.BYTES_PER_LAYER_HEADER, t.enabledCells(), layers);
    }

    /** Runs every (mesh, batch) on a fresh wafer with the source's requests from the start. */
    public Result run(List<HardwareConfig> meshes, List<Integer> batches, Supplier<TraceSource> source) {
        long started = System.nanoTime();
        List<Row> rows = new ArrayList<>();
        long steps = 0;
        long events = 0;
        long emulateNanos = 0;
        // With a pass cap the decode-only requests are small (batch x passes tokens): read or generate
        // them once for every (mesh, batch) run instead of once per run.
        List<RequestTrace> cached = null;
        if (maxPasses > 0) {
            cached = new ArrayList<>();
            TraceSource origin = source.get();
            // Synthetic requests: generate only the tokens the passes read, on every core.
            TraceSource trimmed = origin instanceof SyntheticSource synth
                    ? TraceSource.of(synth.decodeOnly(maxPasses, Runtime.getRuntime().availableProcessors()), origin.describe())
                    : origin;
            new DecodeOnlySource(trimmed, maxPasses, catalog).requests(false, new ArrayList<>())
                    .forEachRemaining(cached::add);
        }
        List<String> plain = policies.stream().filter(p -> !Policies.needsPrediction(p)).toList();
        List<String> predicting = policies.stream().filter(Policies::needsPrediction).toList();
        for (HardwareConfig hw : meshes) {
            for (int batch : batches) {
                // The policies that predict run once per shape, each shape on a wafer of its own (its own
                // heatmap, learned from the same passes); the others once.
                Map<PrefetchShape, PassEmulator> emulators = new LinkedHashMap<>();
                PassEmulator plainEmulator = plain.isEmpty() ? null : new PassEmulator(settings(hw, plain));
                if (!predicting.isEmpty()) {
                    for (PrefetchShape shape : shapes) {
                        emulators.put(shape, new PassEmulator(settings(hw, predicting), shape));
                    }
                }
                List<PassEmulator> all = new ArrayList<>();
                if (plainEmulator != null) {
                    all.add(plainEmulator);
                }
                all.addAll(emulators.values());
                InProcessPlanner planner = policies.stream().anyMatch(Policies::needsPlans) ? new InProcessPlanner(hw) : null;
                Map<String, Map<String, PolicyTotals>> totals = new LinkedHashMap<>(); // model -> label -> totals
                Iterator<RequestTrace> requests = cached != null ? cached.iterator()
                        : new DecodeOnlySource(source.get(), maxPasses, catalog).requests(false, new ArrayList<>());
                BatchScheduler scheduler = new BatchScheduler(requests, batch, Integer.MAX_VALUE, () -> 0L);
                for (long pass = 0; scheduler.hasNext() && (maxPasses <= 0 || pass < maxPasses); pass++) {
                    ScheduledPass scheduled = scheduler.next();
                    CompletedPass completed = new CompletedPass(scheduled.pass(), scheduled.selections(), List.of());
                    ModelShape model = catalog.byId(scheduled.pass().getModel()).orElseThrow();
                    long t0 = System.nanoTime();
                    List<int[][]> plans = planner == null ? null
                            : planner.plan(PassEmulator.workload(model, completed));
                    Map<String, PolicyTotals> byPolicy = totals.computeIfAbsent(model.id(), id -> new LinkedHashMap<>());
                    for (PassEmulator emulator : all) {
                        PassEmulator.Outcome outcome = emulator.emulate(completed, "simulate", plans);
                        DeadLetter letter = outcome.deadLetter();
                        if (letter != null) { // the stream would dead-letter it; offline it is bad input: stop with the reason
                            throw new IllegalArgumentException("pass " + scheduled.pass().getPassId() + ": " + letter.getReason());
                        }
                        String suffix = emulator == plainEmulator ? "" : "|" + shapeOf(emulators, emulator).label();
                        for (PassResult r : outcome.results()) {
                            byPolicy.merge(r.policy() + suffix, PolicyTotals.of(r), PolicyTotals::plus);
                            steps += (long) r.tokens() * model.numMoeLayers();
                            events += r.events();
                        }
                    }
                    emulateNanos += System.nanoTime() - t0;
                }
                for (var byModel : totals.entrySet()) {
                    String model = byModel.getKey();
                    for (String policy : policies) {
                        if (!Policies.needsPrediction(policy)) {
                            PolicyTotals t = byModel.getValue().get(policy);
                            if (t != null) {
                                rows.add(new Row(model, hw.name(), batch, policy, t));
                            }
                            continue;
                        }
                        for (var e : emulators.entrySet()) {
                            PolicyTotals t = byModel.getValue().get(policy + "|" + e.getKey().label());
                            if (t != null) {
                                rows.add(new Row(model, hw.name(), batch, policy, t,
                                        commands(e.getKey(), e.getValue(), model, policy)));
                            }
                        }
                    }
                }
            }
        }
        return new Result(rows, steps, events, emulateNanos, System.nanoTime() - started);
    }
}
