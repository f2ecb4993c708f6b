package io.expertcast.predictor.bench;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code expertcast bench next-token}: JMH's time for the next-token arithmetic of one DeepSeek-V3 decode
 * event, main db16c4d's code and today's side by side in one run ({@link NextTokenBenchmark}).
 */
@Command(name = "next-token", mixinStandardHelpOptions = true,
        description = "The live predictor's next-token arithmetic for one DeepSeek-V3 decode event (58 MoE layers, "
                + "256 experts, top-8, n = 8) under JMH: before (main db16c4d) and after, ns per event and the ratio.")
public final class NextTokenBench implements Callable<Integer> {

    @Option(names = "--iterations", defaultValue = "5", description = "Measurement iterations of 1 s (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--warmup", defaultValue = "3", description = "Warm-up iterations of 1 s (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--forks", defaultValue = "1", description = "JVM forks (default ${DEFAULT-VALUE}; 0 runs in this JVM).")
    int forks;

    @Override
    public Integer call() throws Exception {
        NextTokenBenchmark check = new NextTokenBenchmark();
        check.setUp();
        double[][] oldScores = new double[check.layers][];
        double[][] newScores = new double[check.layers][];
        boolean identical = Arrays.deepEquals(check.oldNextToken(oldScores), check.newNextToken(newScores))
                && Arrays.deepEquals(oldScores, newScores);
        Options options = new OptionsBuilder()
                .include(NextTokenBenchmark.class.getName())
                .warmupIterations(warmup).warmupTime(TimeValue.seconds(1))
                .measurementIterations(iterations).measurementTime(TimeValue.seconds(1))
                .forks(forks)
                .jvmArgsAppend("-Xmx1g")
                .build();
        Map<String, RunResult> byMethod = new HashMap<>();
        for (RunResult r : new Runner(options).run()) {
            String label = r.getParams().getBenchmark();
            byMethod.put(label.substring(label.lastIndexOf('.') + 1), r);
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "Next-token arithmetic of one DeepSeek-V3 decode event (%d MoE layers x %d experts, "
                        + "top-%d, n = %d; %.0f %% of the token's experts also in the token before):%n",
                check.layers, check.experts, check.k, NextTokenBenchmark.N, 100 * check.sharedWithBefore);
        double before = print("before (main db16c4d)", byMethod.get("before"), check.layers);
        double after = print("after (NextTokenPredictor)", byMethod.get("after"), check.layers);
        System.out.printf(Locale.ROOT, "  speed-up %.1fx; predictions and scores bit-identical on this event: %s%n",
                before / after, identical ? "yes" : "NO");
        return identical ? 0 : 1;
    }

    private static double print(String label, RunResult r, int layers) {
        var s = r.getPrimaryResult();
        System.out.printf(Locale.ROOT, "  %-28s %10.0f +- %.0f ns/event  (%.1f ns per layer)%n", label, s.getScore(),
                s.getScoreError(), s.getScore() / layers);
        return s.getScore();
    }
}
