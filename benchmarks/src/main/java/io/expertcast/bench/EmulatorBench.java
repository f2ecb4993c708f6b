package io.expertcast.bench;

import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.emulator.PassEmulator;
import io.expertcast.core.wafer.CopyEnable;
import io.expertcast.core.wafer.LayerWork;
import io.expertcast.core.wafer.PassWorkload;
import io.expertcast.core.wafer.Policies;
import io.expertcast.core.wafer.Policy;
import io.expertcast.core.wafer.WaferContext;
import io.expertcast.core.wafer.WaferEngine;
import io.expertcast.core.wafer.DecodeOnlySource;
import io.expertcast.core.wafer.InProcessPlanner;
import io.expertcast.offline.SimulateCommand;
import io.expertcast.offline.Simulation;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.streams.pass.ScheduledPass;
import io.expertcast.core.trace.source.SyntheticSource;
import io.expertcast.streams.pass.CompletedPass;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code expertcast bench emulator}: token-layer steps per second of the discrete-event engine on
 * one thread, per policy, beside the analytical per-layer model (the same work assignment, costs
 * summed per die without events or contention) on the same passes in the same run; then the wall
 * time of the DeepSeek sweep of docs/reproduction.md.
 */
@Command(name = "emulator", mixinStandardHelpOptions = true,
        description = "Emulator speed: simulated token-layer steps/s per policy vs the analytical model, and the DeepSeek sweep's wall time.")
public final class EmulatorBench implements Callable<Integer> {

    @Option(names = "--batch", defaultValue = "4096", description = "Decode tokens per pass for the engine timing (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--passes", defaultValue = "4", description = "Passes timed per policy (default ${DEFAULT-VALUE}).")
    int passes;

    @Option(names = "--sweep-batches", defaultValue = "4096,8192,16384", split = ",",
            description = "Batch sizes of the DeepSeek sweep; empty to skip it (default ${DEFAULT-VALUE}).")
    List<Integer> sweepBatches;

    @Option(names = "--sweep-passes", defaultValue = "8", description = "Passes per batch size in the sweep (default ${DEFAULT-VALUE}).")
    int sweepPasses;

    @Override
    public Integer call() {
        ModelShape model = ModelCatalog.DEEPSEEK_V3;
        HardwareConfig hw = HardwareConfig.load("dojo-5x5");
        long prepStart = System.nanoTime();
        List<PassWorkload> workloads = new ArrayList<>();
        List<List<int[][]>> plans = new ArrayList<>();
        InProcessPlanner planner = new InProcessPlanner(hw);
        var requests = new DecodeOnlySource(new SyntheticSource(model, batch, 1), passes + 1, ModelCatalog.standard())
                .requests(false, new ArrayList<>());
        BatchScheduler scheduler = new BatchScheduler(requests, batch, Integer.MAX_VALUE, () -> 0L);
        // pass 0 holds each request's last prefill token; the timed passes are full decode passes
        for (int p = 0; p <= passes && scheduler.hasNext(); p++) {
            ScheduledPass s = scheduler.next();
            PassWorkload w = PassEmulator.workload(model, new CompletedPass(s.pass(), s.selections(), List.of()));
            workloads.add(w);
            plans.add(planner.plan(w));
        }
        System.out.printf(Locale.ROOT, "%s on %s: %d passes of %d tokens x %d MoE layers (prepared in %.1f s)%n",
                model.id(), hw.name(), workloads.size(), batch, model.numMoeLayers(), (System.nanoTime() - prepStart) / 1e9);
        System.out.printf(Locale.ROOT, "  %-10s %16s %16s %10s %14s%n", "policy", "DES steps/s", "analytical/s",
                "DES/anal.", "events/s");
        WaferContext wafer = WaferContext.even(hw, model);
        DieCostModel cost = new DieCostModel(hw);
        boolean[][] every = new boolean[model.numMoeLayers()][model.numExperts()];
        for (boolean[] row : every) {
            Arrays.fill(row, true);
        }
        CopyEnable allPredicted = CopyEnable.hbm(every);
        for (String name : Policies.ALL) { // warm-up: every policy through both models once, untimed
            timeEngine(name, wafer, model, workloads, plans, allPredicted, 1);
            timeAnalytical(name, wafer, cost, model, workloads, plans, 1);
        }
        for (String name : Policies.ALL) {
            double[] des = timeEngine(name, wafer, model, workloads, plans, allPredicted, 3);
            double analytical = timeAnalytical(name, wafer, cost, model, workloads, plans, 3);
            System.out.printf(Locale.ROOT, "  %-10s %16.0f %16.0f %10.2f %14.0f%n", name, des[0], analytical,
                    des[0] / analytical, des[1]);
        }
        System.out.println("  (a step = one token through one MoE layer under one policy; one thread; best of 3 runs after a warm-up;"
                + " Pred with every expert forecast)");
        if (!sweepBatches.isEmpty()) {
            Simulation.Result r = new Simulation(ModelCatalog.standard(), Policies.ALL, 4, sweepPasses)
                    .run(List.of(hw), sweepBatches, () -> new SyntheticSource(model,
                            sweepBatches.stream().mapToInt(Integer::intValue).max().orElse(1), 1));
            System.out.printf(Locale.ROOT, "DeepSeek sweep on %s, batches %s, %d passes each, 5 policies:%n", hw.name(),
                    sweepBatches, sweepPasses);
            SimulateCommand.printTable(r, System.out);
        }
        return 0;
    }

    /** Best of three: steps/s and events/s of the engine alone over the prepared passes. */
    private static double[] timeEngine(String name, WaferContext wafer, ModelShape model, List<PassWorkload> passes,
                                       List<List<int[][]>> plans, CopyEnable predicted, int runs) {
        double best = 0;
        double bestEvents = 0;
        for (int run = 0; run < runs; run++) {
            WaferEngine engine = new WaferEngine(wafer, model);
            long steps = 0;
            long events = 0;
            long t0 = System.nanoTime();
            for (int p = 0; p < passes.size(); p++) {
                var r = engine.run(passes.get(p), Policies.of(name, plans.get(p)), predicted);
                steps += (long) r.tokens() * model.numMoeLayers();
                events += r.events();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            if (steps / s > best) {
                best = steps / s;
                bestEvents = events / s;
            }
        }
        return new double[] {best, bestEvents};
    }

    /** The foundation's analytical model on the same assignment: per die, sum of transfer + roofline. */
    private static double timeAnalytical(String name, WaferContext wafer, DieCostModel cost, ModelShape model,
                                         List<PassWorkload> passes, List<List<int[][]>> plans, int runs) {
        double best = 0;
        double sink = 0;
        for (int run = 0; run < runs; run++) {
            long steps = 0;
            long t0 = System.nanoTime();
            for (int p = 0; p < passes.size(); p++) {
                Policy policy = Policies.of(name, plans.get(p));
                PassWorkload w = passes.get(p);
                for (int layer = 0; layer < model.numMoeLayers(); layer++) {
                    LayerWork work = policy.assign(w, layer, wafer);
                    double slowest = 0;
                    for (int d = 0; d < work.dies(); d++) {
                        double ns = 0;
                        for (int e = 0; e < work.experts(); e++) {
                            int tokens = work.tokens(d, e);
                            if (tokens > 0) {
                                int h = wafer.mesh().hops(d, wafer.table().nearestHolder(layer, e, d, wafer.mesh()));
                                ns += cost.weightTransferNs(model, h) + cost.computeNs(model, tokens);
                            }
                        }
                        slowest = Math.max(slowest, ns);
                    }
                    sink += slowest;
                }
                steps += (long) w.tokens() * model.numMoeLayers();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, steps / s);
        }
        if (sink < 0) {
            throw new IllegalStateException();
        }
        return best;
    }
}
