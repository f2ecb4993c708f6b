package io.expertcast.bench;

import io.expertcast.core.predict.TransitionRows;
import io.expertcast.predictor.PublishedHeatmapView;
import io.expertcast.predictor.HeatmapRecords;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.PredictionLevel;
import io.expertcast.schemas.Topics;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code expertcast bench aggregator}: JMH's time for the heatmap aggregator's observation of a 100 ms
 * batch, one layer's publication and a reader's rebuild of one published table, main d83aa0b's code and
 * today's side by side in one run ({@link AggregatorBenchmark}), after checking that both give the same
 * bytes and doubles.
 */
@Command(name = "aggregator", mixinStandardHelpOptions = true,
        description = "The heatmap aggregator for DeepSeek-V3 (58 MoE layers, 256 experts, top-8) under JMH: observing a "
                + "100 ms batch of 500 decode events, publishing one layer, rebuilding a reader's rows; before (main d83aa0b) "
                + "and after, us per operation and the ratio.")
public final class AggregatorBench implements Callable<Integer> {

    @Mixin
    JmhOptions jmh;

    @Override
    public Integer call() throws Exception {
        String same = sameResults();
        Map<String, RunResult> byMethod = jmh.runByMethod(AggregatorBenchmark.class, "2g");
        System.out.println();
        System.out.printf(Locale.ROOT, "Heatmap aggregator, DeepSeek-V3 (58 MoE layers x 256 experts, top-8), tables learned "
                + "from %d synthetic requests:%n", AggregatorBenchmark.LEARNED);
        pair(byMethod, String.format(Locale.ROOT, "observe a 100 ms batch (%d decode events, %d shards)",
                AggregatorBenchmark.EVENTS, AggregatorBenchmark.SHARDS), "observeEventOrder", "event order",
                "observeLayerMajor", "layer-major");
        var tableMajor = byMethod.get("observeTableMajor").getPrimaryResult();
        System.out.printf(Locale.ROOT, "    %-12s %9.1f +- %.1f us   speed-up %.2fx (what the aggregator runs)%n", "table-major",
                tableMajor.getScore(), tableMajor.getScoreError(),
                byMethod.get("observeEventOrder").getPrimaryResult().getScore() / tableMajor.getScore());
        pair(byMethod, "publish one layer's token table (snapshot + prediction table)", "publishBefore", "before",
                "publishAfter", "after");
        System.out.printf(Locale.ROOT, "    (for scale, unchanged: Avro serialization of that snapshot %.0f us)%n",
                byMethod.get("publishSerialize").getPrimaryResult().getScore());
        pair(byMethod, "rebuild one published table's top-32 rows (a reader)", "rowsBefore", "before", "rowsAfter", "after");
        System.out.println("  " + same);
        return 0;
    }

    private static void pair(Map<String, RunResult> byMethod, String what, String beforeMethod, String beforeLabel,
                             String afterMethod, String afterLabel) {
        var before = byMethod.get(beforeMethod).getPrimaryResult();
        var after = byMethod.get(afterMethod).getPrimaryResult();
        System.out.printf(Locale.ROOT, "  %s:%n    %-12s %9.1f +- %.1f us%n    %-12s %9.1f +- %.1f us   speed-up %.2fx%n",
                what, beforeLabel, before.getScore(), before.getScoreError(), afterLabel, after.getScore(),
                after.getScoreError(), before.getScore() / after.getScore());
    }

    /** Both sides of each pair on the benchmark's data: the same tables, bytes and doubles (else it fails). */
    static String sameResults() {
        AggregatorBenchmark a = new AggregatorBenchmark();
        a.setUp();
        AggregatorBenchmark b = new AggregatorBenchmark();
        b.setUp();
        AggregatorBenchmark c = new AggregatorBenchmark();
        c.setUp();
        a.observeEventOrder();
        b.observeLayerMajor();
        c.observeTableMajor();
        for (int l = 0; l < a.layers; l++) {
            for (AggregatorBenchmark x : new AggregatorBenchmark[] {b, c}) {
                if (!Arrays.equals(a.tables[l].token().counts(0), x.tables[l].token().counts(0))
                        || !Arrays.equals(a.tables[l].nextLayer().counts(0), x.tables[l].nextLayer().counts(0))) {
                    throw new IllegalStateException("layer-major observation counted differently at layer " + l);
                }
            }
        }
        var h = a.tables[AggregatorBenchmark.PUBLISHED_LAYER].token();
        var snapshots = Topics.HEATMAPS.valueSerde().serializer();
        var tables = Topics.PREDICTION_TABLES.valueSerde().serializer();
        String m = a.model.id();
        int layer = AggregatorBenchmark.PUBLISHED_LAYER;
        if (!Arrays.equals(snapshots.serialize("t", AggregatorBenchmark.OldPublication.ofTransitions(m, layer,
                        HeatmapKind.TOKEN_TO_TOKEN, h, 1)),
                snapshots.serialize("t", HeatmapRecords.ofTransitions(m, layer, HeatmapKind.TOKEN_TO_TOKEN, h, 1)))
                || !Arrays.equals(tables.serialize("t", AggregatorBenchmark.OldPublication.table(m, layer,
                        PredictionLevel.TOKEN, h, 8, 1)),
                tables.serialize("t", HeatmapRecords.table(m, layer, PredictionLevel.TOKEN, h, 8, 1)))) {
            throw new IllegalStateException("publication changed a byte");
        }
        TransitionRows before = AggregatorBenchmark.OldPublication.rows(a.published);
        TransitionRows after = PublishedHeatmapView.rows(a.published);
        for (int e = 0; e < a.experts; e++) {
            double[] x = new double[a.experts];
            double[] y = new double[a.experts];
            before.addRow(e, x);
            after.addRow(e, y);
            if (!Arrays.equals(x, y)) {
                throw new IllegalStateException("rows differ at expert " + e);
            }
        }
        return "checked first: the same 58 x 2 tables (bit for bit) after one batch in each order, the same snapshot and "
                + "prediction-table bytes, the same rows' doubles";
    }
}
