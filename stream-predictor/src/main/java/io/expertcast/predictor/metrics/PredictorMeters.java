package io.expertcast.predictor.metrics;

import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.streams.metrics.TopicFollower;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * The predictor's own metrics, derived from what it publishes on moe.predictor-metrics (cumulative
 * accuracy per model, predictor and workload tag), read back as any consumer would, so nothing in
 * the topology has to know about Micrometer. Per (model, predictor, tag):
 * {@code expertcast_predictor_samples_total}, {@code _hits_total}, {@code _predicted_experts_total},
 * {@code _hit_samples_total}, {@code _requests_total} (counters: recall over a window =
 * rate(hits) / rate(samples)) and the cumulative {@code expertcast_predictor_recall_ratio},
 * {@code _precision_ratio}, {@code _hit_rate_ratio}. With several predictor instances each reads
 * the whole topic, so aggregate them with max, not sum.
 */
public final class PredictorMeters implements TopicFollower.Handler<String, PredictorMetrics> {
    private final MeterRegistry registry;
    private final Map<String, PredictorMetrics> latest = new ConcurrentHashMap<>();

    public PredictorMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Follows moe.predictor-metrics (its last {@code tail} records per partition, then everything new). */
    public static TopicFollower follow(String bootstrap, String clientId, ServiceMetrics metrics) {
        return new TopicFollower(bootstrap, clientId, metrics)
                .follow(Topics.PREDICTOR_METRICS, 2000, new PredictorMeters(metrics.registry()))
                .start();
    }

    @Override
    public void record(String key, PredictorMetrics m, long timestampMs) {
        if (m == null) {
            return;
        }
        String id = m.getModel() + "/" + m.getPredictor() + "/" + m.getTag();
        if (latest.put(id, m) == null) {
            register(id, Tags.of("model", m.getModel(), "predictor", m.getPredictor(), "tag", m.getTag(),
                    "n", Integer.toString(m.getN())));
        }
    }

    /** The latest record of {@code model/predictor/tag}, for tests. */
    public PredictorMetrics latest(String id) {
        return latest.get(id);
    }

    private void register(String id, Tags tags) {
        counter(id, tags, "expertcast.predictor.samples", "samples",
                "Scored (request, decode step, MoE layer) samples", PredictorMetrics::getSamples);
        counter(id, tags, "expertcast.predictor.hits", null,
                "Experts the decode steps selected that the prediction held (recall numerator)", PredictorMetrics::getHits);
        counter(id, tags, "expertcast.predictor.selected.experts", "experts",
                "Experts the decode steps selected (samples x k; recall = hits / selected)", PredictorMetrics::getSelected);
        counter(id, tags, "expertcast.predictor.predicted.experts", "experts",
                "Experts predicted over all samples (precision denominator)", PredictorMetrics::getPredicted);
        counter(id, tags, "expertcast.predictor.hit.samples", "samples",
                "Samples with at least one hit (hit-rate numerator)", PredictorMetrics::getHitSamples);
        counter(id, tags, "expertcast.predictor.requests", "requests",
                "Requests scored", PredictorMetrics::getRequests);
        gauge(id, tags, "expertcast.predictor.recall", "Recall@n since the predictor started (hits / (samples x k))",
                PredictorMetrics::getRecall);
        gauge(id, tags, "expertcast.predictor.precision", "Precision@n since the predictor started (hits / experts predicted)",
                PredictorMetrics::getPrecision);
        gauge(id, tags, "expertcast.predictor.hit.rate", "Share of samples with at least one hit, since the predictor started",
                PredictorMetrics::getHitRate);
    }

    private void counter(String id, Tags tags, String name, String unit, String help,
                         ToDoubleFunction<PredictorMetrics> value) {
        FunctionCounter.builder(name, latest, map -> value.applyAsDouble(map.get(id)))
                .tags(tags).baseUnit(unit).description(help).register(registry);
    }

    private void gauge(String id, Tags tags, String name, String help, ToDoubleFunction<PredictorMetrics> value) {
        Gauge.builder(name, latest, map -> value.applyAsDouble(map.get(id)))
                .tags(tags).baseUnit("ratio").description(help).register(registry);
    }
}
