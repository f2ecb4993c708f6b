package io.expertcast.core.synth;

import io.expertcast.core.analysis.ObservationReport;
import io.expertcast.core.analysis.Phase;
import io.expertcast.core.analysis.TraceObservations;
import io.expertcast.core.model.ModelShape;
import java.io.PrintStream;
import java.util.Iterator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.ToDoubleFunction;

/**
 * Fits the three mixing weights of a {@link SyntheticCalibration} so that the decode-phase
 * {@code analyze} figures of a generated run meet the paper's: token->token and layer->layer top-20%
 * coverage (Ob2, Ob1), and for k > 1 a top-10% pair share in the middle of the paper's 60-80% (Ob5).
 * Each weight is bisected in turn (each figure grows with its weight), for a few rounds, since the
 * weights interact a little. Deterministic for a seed.
 */
public final class SyntheticCalibrator {
    /** The paper's figures for a model (docs/paper-notes.md, Ob1, Ob2, Ob5). */
    public record Targets(double tokenCoverage, double layerCoverage, double pairShare) {
    }

    private final ModelShape model;
    private final int requests;
    private final long seed;

    public SyntheticCalibrator(ModelShape model, int requests, long seed) {
        this.model = model;
        this.requests = requests;
        this.seed = seed;
    }

    /** The paper's targets for a catalog model; null for a model the paper did not profile. */
    public static Targets paperTargets(String modelId) {
        return switch (modelId) {
            case "deepseek-v3" -> new Targets(0.47, 0.50, 0.70);
            case "qwen3-235b" -> new Targets(0.62, 0.65, 0.70);
            case "llama4-maverick" -> new Targets(0.80, 0.77, Double.NaN);
            case "kimi-k2" -> new Targets(0.53, 0.56, 0.70);
            default -> null;
        };
    }

    /** Analyzes a generated run (decode phase). */
    public ObservationReport analyze(SyntheticCalibration calibration) {
        SyntheticTraceGenerator generator = new SyntheticTraceGenerator(model, calibration, seed);
        TraceObservations observations = new TraceObservations(model, Phase.DECODE);
        Iterator<io.expertcast.core.trace.RequestTrace> it = generator.requests(requests);
        while (it.hasNext()) {
            observations.add(it.next());
        }
        return observations.report();
    }

    public SyntheticCalibration fit(SyntheticCalibration start, Targets targets, int rounds, PrintStream log) {
        SyntheticCalibration c = start;
        double budget = 1 - start.requestWeight();
        for (int round = 0; round < rounds; round++) {
            SyntheticCalibration now = c;
            double token = bisect(x -> 0, w -> analyze(now.withWeights(w, now.layerWeight(), now.pairWeight())),
                    ObservationReport::tokenLevelCoverage, targets.tokenCoverage(),
                    budget - now.layerWeight());
            c = c.withWeights(token, c.layerWeight(), c.pairWeight());
            SyntheticCalibration afterToken = c;
            double layer = bisect(x -> 0, w -> analyze(afterToken.withWeights(afterToken.tokenWeight(), w,
                    afterToken.pairWeight())), ObservationReport::layerLevelCoverage, targets.layerCoverage(),
                    budget - afterToken.tokenWeight());
            c = c.withWeights(c.tokenWeight(), layer, c.pairWeight());
            if (model.topK() > 1 && !Double.isNaN(targets.pairShare())) {
                SyntheticCalibration afterLayer = c;
                double pair = bisect(x -> 0, w -> analyze(afterLayer.withWeights(afterLayer.tokenWeight(),
                        afterLayer.layerWeight(), w)), ObservationReport::pairShare, targets.pairShare(),
                        1.0);
                c = c.withWeights(c.tokenWeight(), c.layerWeight(), pair);
            }
            if (log != null) {
                ObservationReport r = analyze(c);
                log.printf(java.util.Locale.ROOT, "round %d: token %.4f layer %.4f pair %.4f -> token %.3f layer %.3f pairs %.3f%n",
                        round + 1, c.tokenWeight(), c.layerWeight(), c.pairWeight(), r.tokenLevelCoverage(),
                        r.layerLevelCoverage(), r.pairShare());
            }
        }
        return c;
    }

    /** The weight in [0, max] whose figure is closest to the target, by bisection on a growing figure. */
    private static double bisect(DoubleUnaryOperator unused, java.util.function.DoubleFunction<ObservationReport> run,
                                 ToDoubleFunction<ObservationReport> figure, double target, double max) {
        double lo = 0;
        double hi = Math.max(0, max);
        for (int step = 0; step < 9; step++) {
            double mid = (lo + hi) / 2;
            if (figure.applyAsDouble(run.apply(mid)) < target) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return (lo + hi) / 2;
    }
}
