package io.expertcast.bench;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code expertcast bench serde}: JMH's time per value of the topics' serde beside Avro's
 * BinaryMessageEncoder/Decoder, its baseline, in the same run ({@link SerdeBenchmark}).
 */
@Command(name = "serde", mixinStandardHelpOptions = true,
        description = "Value serde under JMH: ns per serialize/deserialize of DeepSeek-shaped records, "
                + "the topics' serde vs Avro's BinaryMessageEncoder/Decoder (the same bytes), and the ratio.")
public final class SerdeBench implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    JmhOptions jmh;

    @Option(names = "--records", split = ",", description = "Records to time: SelectionEvent, PrefetchCommand, HeatmapSnapshot, RequestForecastState (default: all).")
    String[] records;

    @Override
    public Integer call() throws Exception {
        OptionsBuilder builder = new OptionsBuilder();
        jmh.applyTo(builder).include(SerdeBenchmark.class.getName() + "\\.")
                .jvmArgsAppend("-Xmx1g");
        if (records != null) {
            for (String name : records) {
                if (!SerdeBenchmark.RECORDS.contains(name)) {
                    throw new CommandLine.ParameterException(spec.commandLine(),
                            "unknown record " + name + " (one of " + String.join(", ", SerdeBenchmark.RECORDS) + ")");
                }
            }
            builder.param("record", records);
        }
        Options options = builder.build();
        // record -> operation -> [Avro message, single-object] results
        Map<String, Map<String, Result<?>[]>> table = new LinkedHashMap<>();
        for (RunResult r : new Runner(options).run()) {
            String method = r.getParams().getBenchmark().substring(r.getParams().getBenchmark().lastIndexOf('.') + 1);
            String operation = method.startsWith("serialize") ? "serialize" : "deserialize";
            int path = method.endsWith("AvroMessage") ? 0 : 1;
            table.computeIfAbsent(r.getParams().getParam("record"), k -> new LinkedHashMap<>())
                    .computeIfAbsent(operation, k -> new Result<?>[2])[path] = r.getPrimaryResult();
        }
        System.out.println();
        System.out.println("Value serde, one DeepSeek-V3-shaped record per call (JMH average time, +- its 99.9 % error);");
        System.out.println("baseline = Avro BinaryMessageEncoder/Decoder as the serde used them before issue 4, same bytes:");
        System.out.printf(Locale.ROOT, "  %-21s %8s %-12s %18s %18s %9s%n", "record", "bytes", "operation",
                "Avro message ns", "serde ns", "speed-up");
        for (var byRecord : table.entrySet()) {
            int bytes = SerdeBenchmark.encodedBytes(byRecord.getKey());
            for (var byOperation : byRecord.getValue().entrySet()) {
                Result<?> baseline = byOperation.getValue()[0];
                Result<?> serde = byOperation.getValue()[1];
                if (baseline == null || serde == null) {
                    continue;
                }
                System.out.printf(Locale.ROOT, "  %-21s %8d %-12s %18s %18s %8.2fx%n", byRecord.getKey(), bytes,
                        byOperation.getKey(), figure(baseline), figure(serde), baseline.getScore() / serde.getScore());
            }
        }
        return 0;
    }

    private static String figure(Result<?> result) {
        return String.format(Locale.ROOT, "%.0f +- %.0f", result.getScore(), result.getScoreError());
    }
}
