package io.expertcast.core.analysis;

import io.expertcast.core.model.ModelShape;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Issue 3's figures for one model: per MoE layer, and summarised (mean over layers for coverage,
 * Spearman, overlap and pair share; max over layers for the hot-expert and pair ratios). A layer
 * where a figure is undefined (no transitions, a constant frequency vector) holds NaN and is left
 * out of the summary; JSON shows it as null. Pair figures are null for top-1 models.
 */
public record ObservationReport(ModelShape model, Phase phase, long requests, long requestsWithBothPhases,
                                long phaseTokens, int[] layers, double[] tokenLevelTop20Coverage,
                                double[] layerLevelTop20Coverage, double[] prefillDecodeSpearman,
                                double[] top5Overlap, double[] top10Overlap, double[] top20Overlap,
                                double[] hotExpertRatio, double[] top10PctPairShare, double[] topPairOverUniform) {

    public double tokenLevelCoverage() {
        return mean(tokenLevelTop20Coverage);
    }

    public double layerLevelCoverage() {
        return mean(layerLevelTop20Coverage);
    }

    public double spearmanMean() {
        return mean(prefillDecodeSpearman);
    }

    public double hotExpertRatioMax() {
        return max(hotExpertRatio);
    }

    public double pairShare() {
        return top10PctPairShare == null ? Double.NaN : mean(top10PctPairShare);
    }

    public double pairOverUniformMax() {
        return topPairOverUniform == null ? Double.NaN : max(topPairOverUniform);
    }

    /** The JSON object of this report (keys as issue 3 names them; per-layer arrays under "per_layer"). */
    public Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("model", model.id());
        json.put("experts", model.numExperts());
        json.put("top_k", model.topK());
        json.put("moe_layers", model.numMoeLayers());
        json.put("phase", phase.label());
        json.put("requests", requests);
        json.put("requests_with_both_phases", requestsWithBothPhases);
        json.put("phase_tokens", phaseTokens);
        json.put("token_level_top20_coverage", number(tokenLevelCoverage()));
        json.put("layer_level_top20_coverage", number(layerLevelCoverage()));
        json.put("prefill_decode_spearman_mean", number(spearmanMean()));
        json.put("top5_overlap", number(mean(top5Overlap)));
        json.put("top10_overlap", number(mean(top10Overlap)));
        json.put("top20_overlap", number(mean(top20Overlap)));
        json.put("hot_expert_ratio_max", number(hotExpertRatioMax()));
        json.put("top10pct_pair_share", number(pairShare()));
        json.put("top_pair_over_uniform_max", number(pairOverUniformMax()));
        Map<String, Object> perLayer = new LinkedHashMap<>();
        perLayer.put("layer", layers); // the model's layer numbers, beside the MoE index the pipeline uses
        perLayer.put("moe_layer", java.util.stream.IntStream.range(0, layers.length).toArray());
        perLayer.put("token_level_top20_coverage", numbers(tokenLevelTop20Coverage));
        perLayer.put("layer_level_top20_coverage", numbers(layerLevelTop20Coverage));
        perLayer.put("prefill_decode_spearman_mean", numbers(prefillDecodeSpearman));
        perLayer.put("top5_overlap", numbers(top5Overlap));
        perLayer.put("top10_overlap", numbers(top10Overlap));
        perLayer.put("top20_overlap", numbers(top20Overlap));
        perLayer.put("hot_expert_ratio_max", numbers(hotExpertRatio));
        perLayer.put("top10pct_pair_share", top10PctPairShare == null ? null : numbers(top10PctPairShare));
        perLayer.put("top_pair_over_uniform_max", topPairOverUniform == null ? null : numbers(topPairOverUniform));
        json.put("per_layer", perLayer);
        return json;
    }

    /** A short table for a terminal. */
    public String toText() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%s: %d requests (%d with prefill and decode), %d %s tokens, E=%d, k=%d, %d MoE layers%n",
                model.id(), requests, requestsWithBothPhases, phaseTokens, phase.label(), model.numExperts(),
                model.topK(), model.numMoeLayers()));
        line(s, "Ob2 token->token top-20% coverage (mean over layers)", tokenLevelCoverage(), true);
        line(s, "Ob1 layer->layer top-20% coverage (mean over layers)", layerLevelCoverage(), true);
        line(s, "Ob3 prefill/decode Spearman (mean over layers)", spearmanMean(), false);
        line(s, "Ob3 top-5 prefill experts among top-5 decode", mean(top5Overlap), true);
        line(s, "Ob3 top-10 overlap", mean(top10Overlap), true);
        line(s, "Ob3 top-20 overlap", mean(top20Overlap), true);
        line(s, "Ob4 hot expert: max/mean frequency (max over layers)", hotExpertRatioMax(), false);
        line(s, "Ob5 share of co-activations in the top 10% of pairs", pairShare(), true);
        line(s, "Ob5 top pair over uniform expectation (max over layers)", pairOverUniformMax(), false);
        return s.toString();
    }

    private static void line(StringBuilder s, String label, double value, boolean percent) {
        String shown = Double.isNaN(value) ? "n/a" : percent
                ? String.format(Locale.ROOT, "%.1f %%", value * 100) : String.format(Locale.ROOT, "%.3f", value);
        s.append(String.format(Locale.ROOT, "  %-58s %10s%n", label, shown));
    }

    static double mean(double[] values) {
        return Arrays.stream(values).filter(v -> !Double.isNaN(v)).average().orElse(Double.NaN);
    }

    static double max(double[] values) {
        return Arrays.stream(values).filter(v -> !Double.isNaN(v)).max().orElse(Double.NaN);
    }

    private static Double number(double v) {
        return Double.isNaN(v) ? null : Math.round(v * 1e6) / 1e6;
    }

    private static Double[] numbers(double[] values) {
        return Arrays.stream(values).mapToObj(ObservationReport::number).toArray(Double[]::new);
    }
}
