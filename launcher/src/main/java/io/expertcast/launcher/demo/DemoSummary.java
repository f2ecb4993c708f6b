package io.expertcast.launcher.demo;

import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.replayer.ReplaySummary;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.WaferMetrics;
import java.util.List;
import java.util.Locale;

/** The demo's printed summary. */
final class DemoSummary {
    private DemoSummary() {
    }

    static String format(ReplaySummary replay, ExpectedOutputs expected, PipelineOutputs out, List<String> policies,
                         EmulatorSettings emulator) {
        StringBuilder s = new StringBuilder();
        s.append("== expertcast demo summary\n");
        s.append(String.format(Locale.ROOT, "replay     %d requests, %d passes, %d selection events, %d tokens, %.1f MB in %.1f s (%.0f events/s)%n",
                replay.requests(), replay.passes(), replay.events(), replay.tokens(), replay.bytes() / 1e6,
                replay.elapsedSeconds(), replay.eventsPerSecond()));
        if (!replay.skipped().isEmpty()) {
            s.append("           skipped bad files: ").append(replay.skipped().size()).append('\n');
        }
        s.append(String.format(Locale.ROOT, "predictor  %d decode-phase and %d next-token prefetch commands%n",
                out.prefetchCommands(), out.nextTokenCommands()));
        for (PredictorMetrics m : out.predictorMetrics().values()) {
            s.append(String.format(Locale.ROOT,
                    "           %s %-24s recall@%d = %.4f, precision = %.4f, hit rate = %.4f over %d samples",
                    m.getModel(), m.getPredictor(), m.getN(), m.getRecall(), m.getPrecision(), m.getHitRate(),
                    m.getSamples()));
            if (m.getPredictor().equals(ExpectedOutputs.CHECKED_PREDICTOR)) {
                s.append(String.format(Locale.ROOT, " (computed offline from the same files: %.4f)",
                        expected.recallPerModel().get(m.getModel()).recall()));
            }
            s.append('\n');
        }
        s.append(String.format(Locale.ROOT, "allocator  %d allocation plans (%d passes x MoE layers)%n",
                out.allocationPlans(), expected.totalPasses()));
        s.append(String.format(Locale.ROOT, "emulator   %s, %d dies; MoE-layer time per pass = slowest die%n",
                emulator.hardware().name(), emulator.hardware().dies()));
        for (String model : expected.passesPerModel().keySet()) {
            WaferMetrics base = out.waferMetrics().get(model + "/base");
            s.append(String.format(Locale.ROOT, "  %-16s %-9s %13s %9s %12s %14s%n", model, "policy",
                    "tokens/s", "vs base", "hops", "hops vs base"));
            for (String policy : policies) {
                WaferMetrics m = out.waferMetrics().get(model + "/" + policy);
                if (m == null) {
                    continue;
                }
                String speedup = base == null ? "-" : String.format(Locale.ROOT, "%.2fx",
                        m.getThroughputTokensPerS() / base.getThroughputTokensPerS());
                String hops = base == null || base.getHops() == 0 || m == base ? "-"
                        : m.getHops() == 0 ? "no hops"
                        : String.format(Locale.ROOT, "%.1fx fewer", (double) base.getHops() / m.getHops());
                s.append(String.format(Locale.ROOT, "  %-16s %-9s %13.0f %9s %12d %14s%n", "", policy,
                        m.getThroughputTokensPerS(), speedup, m.getHops(), hops));
            }
            WaferMetrics pred = out.waferMetrics().get(model + "/pred");
            if (emulator.needsPrefetchCommands() && pred != null) {
                s.append(String.format(Locale.ROOT,
                        "  %-16s pred's copies from moe.prefetch: %d commands used, %d late, %d expired, %d unknown%n",
                        "", pred.getPrefetchUsed(), pred.getPrefetchLate(), pred.getPrefetchExpired(),
                        pred.getPrefetchUnknown()));
            }
        }
        s.append(String.format(Locale.ROOT, "dead letters %d%n", out.deadLetters().size()));
        return s.toString();
    }
}
