package io.expertcast.bench;

import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code expertcast bench allocator}: JMH's time per layer of Algorithm 1 ({@link AllocatorBenchmark}). */
@Command(name = "allocator", mixinStandardHelpOptions = true,
        description = "Algorithm 1 for one DeepSeek-V3 layer under JMH: microseconds per layer on 5x5 and 8x3, batch 4096 and 16384.")
public final class AllocatorBench implements Callable<Integer> {

    @Mixin
    JmhOptions jmh;

    /** The MoE layer time of the plan for the benchmark's input as the emulator times it, in us. */
    static double emulatedLayerUs(String mesh, int batch, String cost) {
        AllocatorBenchmark b = new AllocatorBenchmark();
        b.mesh = mesh;
        b.batch = batch;
        b.cost = cost;
        b.setUp();
        return b.emulatedLayerNs() / 1e3;
    }

    private static String loadAverage() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException | RuntimeException e) {
            return "unknown";
        }
    }

    @Override
    public Integer call() throws Exception {
        Options options = jmh.applyTo(new OptionsBuilder())
                .include(AllocatorBenchmark.class.getName())
                .jvmArgsAppend("-Xmx1g")
                .build();
        var results = new Runner(options).run();
        System.out.println();
        System.out.println("Algorithm 1, one DeepSeek-V3 layer (256 experts, top-8), target <= 50 us at batch 16384 on 5x5;");
        System.out.println("cost 'emulator' = today's, 'paper' = before (issue 5), same run; beside each the layer time of its");
        System.out.println("plan as the emulator times it and the share the allocator would add if run serially:");
        System.out.printf("load average %s%n", loadAverage());
        for (RunResult r : results) {
            var p = r.getParams();
            var s = r.getPrimaryResult();
            double layerUs = emulatedLayerUs(p.getParam("mesh"), Integer.parseInt(p.getParam("batch")), p.getParam("cost"));
            System.out.printf(java.util.Locale.ROOT,
                    "  %-13s batch %6s  cost %-8s  %8.2f +- %.2f us/layer   emulated layer %8.1f us   %5.1f %%%n",
                    p.getParam("mesh"), p.getParam("batch"), p.getParam("cost"), s.getScore(), s.getScoreError(), layerUs,
                    100 * s.getScore() / layerUs);
        }
        return 0;
    }
}
