package io.expertcast.predictor;

import io.expertcast.schemas.PredictorMetrics;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The request side's scores since it last handed them on, summed per (model, predictor, tag): one
 * {@link PredictorMetrics} delta per key and batch interval instead of three per decode step, so the
 * repartition topic to {@link DecodeAccuracyAggregator} carries a few records per interval whatever the
 * rate. The aggregator adds deltas, so a sum of steps publishes exactly what the steps one by one would.
 */
final class ScoreSums {
    /** One key's sums; per-layer arrays sized by the model's MoE layers. */
    private static final class Sum {
        final String model;
        final String predictor;
        final String tag;
        final int n;
        long samples;
        long hits;
        long selected;
        long requests;
        long predicted;
        long hitSamples;
        final long[] layerHits;
        final long[] layerPredicted;
        final long[] layerHitSamples;
        double[] spearmanSum;       // null until a request ended in this batch
        long[] spearmanRequests;
        long eventTimeMs = Long.MIN_VALUE;

        Sum(String model, String predictor, String tag, int n, int layers) {
            this.model = model;
            this.predictor = predictor;
            this.tag = tag;
            this.n = n;
            this.layerHits = new long[layers];
            this.layerPredicted = new long[layers];
            this.layerHitSamples = new long[layers];
        }
    }

    private final Map<String, Sum> sums = new LinkedHashMap<>();

    boolean isEmpty() {
        return sums.isEmpty();
    }

    /**
     * One decode step scored against one prediction: per MoE layer its hits (distinct selected experts
     * that were predicted) and how many experts were predicted; {@code spearman} (per layer, NaN if
     * undefined) at a request's last step, else null.
     */
    void add(String model, String predictor, String tag, int n, int k, int[] layerHits, int[] layerPredicted,
             long requests, double[] spearman, long eventTimeMs) {
        int layers = layerHits.length;
        Sum s = sums.computeIfAbsent(model + '\u0000' + predictor + '\u0000' + tag,
                x -> new Sum(model, predictor, tag, n, layers));
        for (int l = 0; l < layers; l++) {
            int h = layerHits[l];
            s.hits += h;
            s.predicted += layerPredicted[l];
            s.hitSamples += h > 0 ? 1 : 0;
            s.layerHits[l] += h;
            s.layerPredicted[l] += layerPredicted[l];
            s.layerHitSamples[l] += h > 0 ? 1 : 0;
        }
        s.samples += layers;
        s.selected += (long) layers * k;
        s.requests += requests;
        if (spearman != null) {
            if (s.spearmanSum == null) {
                s.spearmanSum = new double[layers];
                s.spearmanRequests = new long[layers];
            }
            for (int l = 0; l < layers; l++) {
                if (!Double.isNaN(spearman[l])) {
                    s.spearmanSum[l] += spearman[l];
                    s.spearmanRequests[l]++;
                }
            }
        }
        s.eventTimeMs = Math.max(s.eventTimeMs, eventTimeMs);
    }

    /** The sums as deltas (key = model, as the aggregator's repartition wants), and this empty again. */
    List<PredictorMetrics> drain() {
        List<PredictorMetrics> out = new ArrayList<>(sums.size());
        for (Sum s : sums.values()) {
            int layers = s.layerHits.length;
            List<Long> layerHits = new ArrayList<>(layers);
            List<Long> layerPredicted = new ArrayList<>(layers);
            List<Long> layerHitSamples = new ArrayList<>(layers);
            List<Double> layerRecall = new ArrayList<>(layers);
            long perLayerSelected = s.selected / layers;
            for (int l = 0; l < layers; l++) {
                layerHits.add(s.layerHits[l]);
                layerPredicted.add(s.layerPredicted[l]);
                layerHitSamples.add(s.layerHitSamples[l]);
                layerRecall.add(s.layerHits[l] / (double) perLayerSelected);
            }
            List<Double> spearmanSum = new ArrayList<>();
            List<Long> spearmanRequests = new ArrayList<>();
            if (s.spearmanSum != null) {
                for (int l = 0; l < layers; l++) {
                    spearmanSum.add(s.spearmanSum[l]);
                    spearmanRequests.add(s.spearmanRequests[l]);
                }
            }
            out.add(PredictorMetrics.newBuilder()
                    .setModel(s.model)
                    .setPredictor(s.predictor)
                    .setN(s.n)
                    .setSamples(s.samples)
                    .setHits(s.hits)
                    .setSelected(s.selected)
                    .setRecall(s.hits / (double) s.selected)
                    .setRequests(s.requests)
                    .setPredicted(s.predicted)
                    .setHitSamples(s.hitSamples)
                    .setPrecision(s.predicted == 0 ? 0.0 : s.hits / (double) s.predicted)
                    .setHitRate(s.hitSamples / (double) s.samples)
                    .setTag(s.tag)
                    .setLayerHits(layerHits)
                    .setLayerPredicted(layerPredicted)
                    .setLayerHitSamples(layerHitSamples)
                    .setLayerRecall(layerRecall)
                    .setLayerSpearmanSum(spearmanSum)
                    .setLayerSpearmanRequests(spearmanRequests)
                    .setLayerSpearman(List.of())
                    .setEventTimeMs(s.eventTimeMs)
                    .build());
        }
        sums.clear();
        return out;
    }
}
