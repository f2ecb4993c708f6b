package io.expertcast.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code expertcast bench next-token}: JMH's time for the next-token arithmetic of one DeepSeek-V3 decode
 * event, main db16c4d's code and today's side by side in one run ({@link NextTokenBenchmark}).
 */
@Command(name = "next-token", mixinStandardHelpOptions = true,
        description = "The live predictor's next-token arithmetic for one DeepSeek-V3 decode event (58 MoE layers, "
                + "256 experts, top-8, n = 8) under JMH: before (main db16c4d) and after, ns per event and the ratio.")
public final class NextTokenBench implements Callable<Integer> {

    @Mixin
    JmhOptions jmh;

    @Override
    public Integer call() throws Exception {
        NextTokenBenchmark check = new NextTokenBenchmark();
        check.setUp();
        // How often the two give the same n experts (as sets) for a layer, over every event of the run.
        long same = 0;
        for (int e = 0; e < NextTokenBenchmark.EVENTS; e++) {
            check.nextEvent();
            int[][] old = check.oldNextToken(new double[check.layers][]);
            int[][] now = check.newNextToken(new double[check.layers][]);
            for (int l = 0; l < check.layers; l++) {
                int[] a = old[l].clone();
                int[] b = now[l].clone();
                Arrays.sort(a);
                Arrays.sort(b);
                same += Arrays.equals(a, b) ? 1 : 0;
            }
        }
        double agreement = same / (double) (NextTokenBenchmark.EVENTS * check.layers);
        Map<String, RunResult> byMethod = jmh.runByMethod(NextTokenBenchmark.class, "1g");
        System.out.println();
        System.out.printf(Locale.ROOT, "Next-token arithmetic of one DeepSeek-V3 decode event (%d MoE layers x %d experts, "
                        + "top-%d, n = %d), cycling over %d events:%n",
                check.layers, check.experts, check.k, NextTokenBenchmark.N, NextTokenBenchmark.EVENTS);
        double before = print("before (main db16c4d)", byMethod.get("before"), check.layers);
        double after = print("after (NextTokenPredictor, top-32 rows)", byMethod.get("after"), check.layers);
        System.out.printf(Locale.ROOT, "  speed-up %.1fx; the same %d experts on %.1f %% of (event, layer) (whole rows "
                + "of the current table vs top-%d rows)%n", before / after, NextTokenBenchmark.N, 100 * agreement,
                io.expertcast.core.predict.BlendedPredictor.HEAT_ROW_WIDTH);
        return 0;
    }

    private static double print(String label, RunResult r, int layers) {
        var s = r.getPrimaryResult();
        System.out.printf(Locale.ROOT, "  %-28s %10.0f +- %.0f ns/event  (%.1f ns per layer)%n", label, s.getScore(),
                s.getScoreError(), s.getScore() / layers);
        return s.getScore();
    }
}
