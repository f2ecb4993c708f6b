package io.expertcast.allocator.bench;

import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code expertcast bench allocator}: JMH's time per layer of Algorithm 1 ({@link AllocatorBenchmark}). */
@Command(name = "allocator", mixinStandardHelpOptions = true,
        description = "Algorithm 1 for one DeepSeek-V3 layer under JMH: microseconds per layer on 5x5 and 8x3, batch 4096 and 16384.")
public final class AllocatorBench implements Callable<Integer> {

    @Option(names = "--iterations", defaultValue = "5", description = "Measurement iterations of 1 s (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--forks", defaultValue = "1", description = "JVM forks (default ${DEFAULT-VALUE}; 0 runs in this JVM).")
    int forks;

    @Override
    public Integer call() throws Exception {
        Options options = new OptionsBuilder()
                .include(AllocatorBenchmark.class.getName())
                .warmupIterations(3).warmupTime(TimeValue.seconds(1))
                .measurementIterations(iterations).measurementTime(TimeValue.seconds(1))
                .forks(forks)
                .jvmArgsAppend("-Xmx1g")
                .build();
        var results = new Runner(options).run();
        System.out.println();
        System.out.println("Algorithm 1, one DeepSeek-V3 layer (256 experts, top-8), target <= 50 us at batch 16384 on 5x5:");
        for (RunResult r : results) {
            var p = r.getParams();
            var s = r.getPrimaryResult();
            System.out.printf(java.util.Locale.ROOT, "  %-13s batch %6s  %8.2f +- %.2f us/layer%n", p.getParam("mesh"),
                    p.getParam("batch"), s.getScore(), s.getScoreError());
        }
        return 0;
    }
}
