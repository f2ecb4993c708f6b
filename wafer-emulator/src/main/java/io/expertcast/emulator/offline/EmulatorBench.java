package io.expertcast.emulator.offline;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.emulator.engine.BasePolicy;
import io.expertcast.emulator.engine.ExpertParallelPolicy;
import io.expertcast.emulator.engine.PassWorkload;
import io.expertcast.emulator.engine.Policy;
import io.expertcast.emulator.engine.WaferContext;
import io.expertcast.emulator.engine.WaferEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code expertcast bench emulator}: simulated token-layer steps per second of the engine on one
 * thread (a step = one token through one MoE layer), per policy, on synthetic DeepSeek-V3 decode
 * passes; with {@code --sweep}, the wall time of {@code simulate} over the paper's batch sizes.
 */
@Command(name = "emulator", mixinStandardHelpOptions = true,
        description = "Engine speed in token-layer steps per second (one thread), and optionally the DeepSeek sweep's wall time.")
public final class EmulatorBench implements Callable<Integer> {

    @Option(names = "--batch", defaultValue = "4096", description = "Tokens per pass (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--passes", defaultValue = "20", description = "Passes per timed round (default ${DEFAULT-VALUE}).")
    int passes;

    @Option(names = "--sweep", description = "Also time simulate --synth deepseek-v3 at batches 4096, 8192, 16384 (minutes).")
    boolean sweep;

    @Override
    public Integer call() {
        ModelShape model = ModelCatalog.DEEPSEEK_V3;
        HardwareConfig hardware = HardwareConfig.load("dojo-5x5");
        List<PassWorkload> workloads = new ArrayList<>();
        var generator = new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), 1);
        DecodeBatches batches = new DecodeBatches(model, generator.requests(batch * 2), batch);
        for (int i = 0; i < passes; i++) {
            DecodeBatches.Pass p = batches.next();
            workloads.add(new PassWorkload(model, p.id(), p.tokens(), p.ids()));
        }
        WaferContext wafer = WaferContext.even(hardware, model);
        System.out.printf(Locale.ROOT, "%s on %s, %d passes of %d decode tokens, %d MoE layers, one thread%n",
                model.id(), hardware.name(), passes, batch, model.numMoeLayers());
        for (Policy policy : List.of(new BasePolicy(), new ExpertParallelPolicy())) {
            for (PassWorkload w : workloads.subList(0, Math.min(3, workloads.size()))) {
                WaferEngine.run(w, policy, wafer); // warm-up
            }
            long started = System.nanoTime();
            for (PassWorkload w : workloads) {
                WaferEngine.run(w, policy, wafer);
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            double steps = (double) passes * batch * model.numMoeLayers();
            System.out.printf(Locale.ROOT, "  %-6s %12.0f token-layer steps/s  (%.2f s)%n", policy.name(), steps / seconds,
                    seconds);
        }
        if (sweep) {
            long started = System.nanoTime();
            for (int b : new int[] {4096, 8192, 16384}) {
                new Simulation(model, hardware, b, Simulation.POLICIES)
                        .run(new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), 1).requests(2 * b));
                System.out.printf(Locale.ROOT, "  sweep: batch %d done at %.0f s%n", b, (System.nanoTime() - started) / 1e9);
            }
        }
        return 0;
    }
}
