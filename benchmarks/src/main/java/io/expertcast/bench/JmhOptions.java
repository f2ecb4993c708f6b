package io.expertcast.bench;

import java.util.HashMap;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine.Option;

/**
 * The options every JMH bench command takes ({@code @Mixin}): iterations of 1 s measured and warmed up, and
 * forks. picocli and JMH are optional dependencies of this module: the bench modules bring their own.
 */
public final class JmhOptions {
    @Option(names = "--iterations", defaultValue = "5", description = "Measurement iterations of 1 s (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--warmup", defaultValue = "3", description = "Warm-up iterations of 1 s (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--forks", defaultValue = "1", description = "JVM forks (default ${DEFAULT-VALUE}; 0 runs in this JVM).")
    int forks;

    /** {@code builder} with these iterations (1 s each) and forks. */
    public ChainedOptionsBuilder applyTo(ChainedOptionsBuilder builder) {
        return builder.warmupIterations(warmup).warmupTime(TimeValue.seconds(1))
                .measurementIterations(iterations).measurementTime(TimeValue.seconds(1))
                .forks(forks);
    }

    /**
     * Runs every benchmark method of {@code benchmark} with these options and {@code -Xmx<maxHeap>}; the
     * results by method name (for benches without parameters: one result per method).
     */
    public Map<String, RunResult> runByMethod(Class<?> benchmark, String maxHeap) throws RunnerException {
        Map<String, RunResult> byMethod = new HashMap<>();
        for (RunResult r : new Runner(applyTo(new OptionsBuilder()).include(benchmark.getName())
                .jvmArgsAppend("-Xmx" + maxHeap).build()).run()) {
            String label = r.getParams().getBenchmark();
            byMethod.put(label.substring(label.lastIndexOf('.') + 1), r);
        }
        return byMethod;
    }
}
