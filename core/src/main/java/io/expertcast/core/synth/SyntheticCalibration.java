package io.expertcast.core.synth;

import io.expertcast.core.model.ModelShape;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Properties;

/**
 * The knobs of {@link SyntheticTraceGenerator} for one model. The three mixing weights are fitted by
 * {@link SyntheticCalibrator} so that {@code analyze} on the output meets the paper's figures; the
 * rest are set from the data: prefill lengths from the real Llama-4 files and, for the other models,
 * from the per-query prefill working sets in the dataset's routing_stats.json (the number of tokens
 * whose top-k picks cover that many distinct experts); popularity skew from the same file's load Gini.
 *
 * @param tokenWeight    chance a token's group at a layer follows the previous token's group there (Ob2)
 * @param layerWeight    chance it follows this token's group at the previous MoE layer (Ob1)
 * @param pairWeight     chance each of the token's k picks comes from its group rather than from the
 *                       workload's popularity: what makes co-activated pairs (Ob5) and what carries the
 *                       group's structure into the picks
 * @param requestWeight  chance the group is one of the request's favourites (what prefill reveals, Ob3)
 * @param zipf           popularity skew: weight of the r-th most popular expert is 1 / (r + 1)^zipf
 * @param hotShare       chance a token picks the hot layer's hottest expert (Ob4: ratio about hotShare x E / k)
 * @param diagonalFirst  chance a token->token group successor is the same group, at the first MoE layer
 * @param diagonalLast   the same at the last MoE layer (the paper's diagonal brightens with depth)
 * @param prefillMedian  median prefill tokens (log-normal)
 * @param prefillSigma   log-normal sigma of the prefill length
 * @param fullDecodeShare share of requests that run all 128 decode steps (others stop early)
 * @param groupFactor    group size in multiples of k (top-1 models: groups of 4)
 */
public record SyntheticCalibration(double tokenWeight, double layerWeight, double pairWeight, double requestWeight,
                                   double zipf, double hotShare, double diagonalFirst, double diagonalLast,
                                   double prefillMedian, double prefillSigma, double fullDecodeShare,
                                   double groupFactor) {

    public static final int MAX_DECODE_STEPS = 128;

    public SyntheticCalibration {
        if (tokenWeight < 0 || layerWeight < 0 || requestWeight < 0 || tokenWeight + layerWeight + requestWeight > 1 + 1e-9) {
            throw new IllegalArgumentException("group weights (token, layer, request) must be >= 0 and sum to at most 1");
        }
        if (pairWeight < 0 || pairWeight > 1 || hotShare < 0 || hotShare > 1) {
            throw new IllegalArgumentException("pairWeight and hotShare are chances in [0, 1]");
        }
    }

    public SyntheticCalibration withWeights(double token, double layer, double pair) {
        return new SyntheticCalibration(token, layer, pair, requestWeight, zipf, hotShare, diagonalFirst, diagonalLast,
                prefillMedian, prefillSigma, fullDecodeShare, groupFactor);
    }

    /** The fitted calibration of a catalog model, or the generic one (k = 1 or k > 1) for any other shape. */
    public static SyntheticCalibration of(ModelShape model) {
        Properties p = new Properties();
        try (InputStream in = SyntheticCalibration.class.getResourceAsStream("calibration.properties")) {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String prefix = p.containsKey(model.id() + ".tokenWeight") ? model.id()
                : model.topK() == 1 ? "generic-top1" : "generic";
        return new SyntheticCalibration(get(p, prefix, "tokenWeight"), get(p, prefix, "layerWeight"),
                get(p, prefix, "pairWeight"), get(p, prefix, "requestWeight"), get(p, prefix, "zipf"),
                get(p, prefix, "hotShare"), get(p, prefix, "diagonalFirst"), get(p, prefix, "diagonalLast"),
                get(p, prefix, "prefillMedian"), get(p, prefix, "prefillSigma"), get(p, prefix, "fullDecodeShare"),
                get(p, prefix, "groupFactor"));
    }

    private static double get(Properties p, String prefix, String key) {
        String v = p.getProperty(prefix + "." + key);
        if (v == null) {
            throw new IllegalStateException("calibration.properties lacks " + prefix + "." + key);
        }
        return Double.parseDouble(v);
    }

    /** The lines of calibration.properties for a model. */
    public String toProperties(String modelId) {
        return String.format(Locale.ROOT, """
                %1$s.tokenWeight=%2$.4f
                %1$s.layerWeight=%3$.4f
                %1$s.pairWeight=%4$.4f
                %1$s.requestWeight=%5$.4f
                %1$s.zipf=%6$.3f
                %1$s.hotShare=%7$.3f
                %1$s.diagonalFirst=%8$.3f
                %1$s.diagonalLast=%9$.3f
                %1$s.prefillMedian=%10$.1f
                %1$s.prefillSigma=%11$.3f
                %1$s.fullDecodeShare=%12$.3f
                %1$s.groupFactor=%13$.3f
                """, modelId, tokenWeight, layerWeight, pairWeight, requestWeight, zipf, hotShare, diagonalFirst,
                diagonalLast, prefillMedian, prefillSigma, fullDecodeShare, groupFactor);
    }
}
