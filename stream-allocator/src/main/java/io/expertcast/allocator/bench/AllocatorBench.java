package io.expertcast.allocator.bench;

import io.expertcast.streams.bench.JmhOptions;
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

    /** The MoE layer time Algorithm 1 plans for the benchmark's input (its slowest die), in us. */
    static double plannedLayerUs(String mesh, int batch) {
        AllocatorBenchmark b = new AllocatorBenchmark();
        b.mesh = mesh;
        b.batch = batch;
        b.setUp();
        return b.oneLayer().maxDieNs() / 1e3;
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
        System.out.println("beside it the layer time it plans (slowest die) and the share the allocator would add if run serially:");
        for (RunResult r : results) {
            var p = r.getParams();
            var s = r.getPrimaryResult();
            double plannedUs = plannedLayerUs(p.getParam("mesh"), Integer.parseInt(p.getParam("batch")));
            System.out.printf(java.util.Locale.ROOT, "  %-13s batch %6s  %8.2f +- %.2f us/layer   planned layer %8.1f us   %5.1f %%%n",
                    p.getParam("mesh"), p.getParam("batch"), s.getScore(), s.getScoreError(), plannedUs,
                    100 * s.getScore() / plannedUs);
        }
        return 0;
    }
}
