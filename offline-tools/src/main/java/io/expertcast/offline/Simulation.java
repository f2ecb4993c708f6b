package io.expertcast.offline;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.source.SyntheticSource;
import io.expertcast.core.trace.source.TraceSource;
import io.expertcast.core.wafer.DecodeOnlySource;
import io.expertcast.core.wafer.InProcessPlanner;
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
    /** What one policy achieved for one model, mesh and batch size. */
    public record Row(String model, String mesh, int batch, String policy, PolicyTotals totals) {
    }

    /** The rows, plus what the run cost (for the benchmark). */
    public record Result(List<Row> rows, long tokenLayerSteps, long events, long emulateNanos, long wallNanos) {
    }

    private final ModelCatalog catalog;
    private final List<String> policies;
    private final int predictN;
    private final int maxPasses;

    /** @param maxPasses passes per (mesh, batch) run; {@code <= 0}: until the source is drained */
    public Simulation(ModelCatalog catalog, List<String> policies, int predictN, int maxPasses) {
        this.catalog = catalog;
        this.policies = List.copyOf(policies);
        this.predictN = predictN;
        this.maxPasses = maxPasses;
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
        for (HardwareConfig hw : meshes) {
            for (int batch : batches) {
                EmulatorSettings settings = new EmulatorSettings(catalog, hw, policies, "simulate", predictN,
                        PrefetchSource.IN_PROCESS);
                PassEmulator emulator = new PassEmulator(settings);
                InProcessPlanner planner = settings.needsPlans() ? new InProcessPlanner(hw) : null;
                Map<String, Map<String, PolicyTotals>> totals = new LinkedHashMap<>(); // model -> policy -> totals
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
                    PassEmulator.Outcome outcome = emulator.emulate(completed, "simulate", plans);
                    emulateNanos += System.nanoTime() - t0;
                    DeadLetter letter = outcome.deadLetter();
                    if (letter != null) { // the stream would dead-letter it; offline it is bad input: stop with the reason
                        throw new IllegalArgumentException("pass " + scheduled.pass().getPassId() + ": " + letter.getReason());
                    }
                    Map<String, PolicyTotals> byPolicy = totals.computeIfAbsent(model.id(), id -> new LinkedHashMap<>());
                    for (PassResult r : outcome.results()) {
                        byPolicy.merge(r.policy(), PolicyTotals.of(r), PolicyTotals::plus);
                        steps += (long) r.tokens() * model.numMoeLayers();
                        events += r.events();
                    }
                }
                totals.forEach((model, byPolicy) -> byPolicy.forEach((policy, t) ->
                        rows.add(new Row(model, hw.name(), batch, policy, t))));
            }
        }
        return new Result(rows, steps, events, emulateNanos, System.nanoTime() - started);
    }
}
