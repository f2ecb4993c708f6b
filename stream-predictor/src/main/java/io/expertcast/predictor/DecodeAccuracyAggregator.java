package io.expertcast.predictor;

import io.expertcast.schemas.PredictorMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Sums the per-step scores of {@link RequestForecastProcessor} (key = model) in
 * {@link PredictorTopology#ACCURACY_STORE} under {@code model/predictor/*} and
 * {@code model/predictor/<benchmark>}, per MoE layer too, and publishes the cumulative
 * {@link PredictorMetrics} (same key) on a wall-clock schedule, only for keys whose totals changed since
 * this task last published them (after a restart, every key is published once).
 */
final class DecodeAccuracyAggregator implements Processor<String, PredictorMetrics, String, PredictorMetrics> {
    static final String ALL = "*";

    private final Duration interval;
    private final Map<String, PredictorMetrics> lastPublished = new HashMap<>();
    private ProcessorContext<String, PredictorMetrics> context;
    private KeyValueStore<String, PredictorMetrics> totals;

    DecodeAccuracyAggregator(Duration interval) {
        this.interval = interval;
    }

    static String key(String model, String predictor, String tag) {
        return model + "/" + predictor + "/" + tag;
    }

    @Override
    public void init(ProcessorContext<String, PredictorMetrics> context) {
        this.context = context;
        this.totals = context.getStateStore(PredictorTopology.ACCURACY_STORE);
        context.schedule(interval, PunctuationType.WALL_CLOCK_TIME, this::publishChanged);
    }

    @Override
    public void process(Record<String, PredictorMetrics> record) {
        PredictorMetrics delta = record.value();
        add(key(delta.getModel(), delta.getPredictor(), ALL), PredictorMetrics.newBuilder(delta).setTag(ALL).build());
        if (!delta.getTag().equals(ALL)) {
            add(key(delta.getModel(), delta.getPredictor(), delta.getTag()), delta);
        }
    }

    private void add(String key, PredictorMetrics delta) {
        PredictorMetrics total = totals.get(key);
        totals.put(key, total == null ? derived(delta) : derived(sum(total, delta)));
    }

    private static PredictorMetrics sum(PredictorMetrics a, PredictorMetrics b) {
        return PredictorMetrics.newBuilder(a)
                .setN(b.getN())
                .setSamples(a.getSamples() + b.getSamples())
                .setHits(a.getHits() + b.getHits())
                .setSelected(a.getSelected() + b.getSelected())
                .setRequests(a.getRequests() + b.getRequests())
                .setPredicted(a.getPredicted() + b.getPredicted())
                .setHitSamples(a.getHitSamples() + b.getHitSamples())
                .setLayerHits(addLongs(a.getLayerHits(), b.getLayerHits()))
                .setLayerPredicted(addLongs(a.getLayerPredicted(), b.getLayerPredicted()))
                .setLayerHitSamples(addLongs(a.getLayerHitSamples(), b.getLayerHitSamples()))
                .setLayerSpearmanSum(addDoubles(a.getLayerSpearmanSum(), b.getLayerSpearmanSum()))
                .setLayerSpearmanRequests(addLongs(a.getLayerSpearmanRequests(), b.getLayerSpearmanRequests()))
                .setEventTimeMs(Math.max(a.getEventTimeMs(), b.getEventTimeMs()))
                .build();
    }

    /** The ratios of a total, from its sums. */
    private static PredictorMetrics derived(PredictorMetrics m) {
        List<Double> layerRecall = new ArrayList<>();
        int layers = m.getLayerHits().size();
        long perLayerSelected = layers == 0 ? 0 : m.getSelected() / layers;
        for (long h : m.getLayerHits()) {
            layerRecall.add(perLayerSelected == 0 ? 0.0 : h / (double) perLayerSelected);
        }
        List<Double> spearman = new ArrayList<>();
        for (int l = 0; l < m.getLayerSpearmanSum().size(); l++) {
            long r = m.getLayerSpearmanRequests().get(l);
            spearman.add(r == 0 ? Double.NaN : m.getLayerSpearmanSum().get(l) / r);
        }
        return PredictorMetrics.newBuilder(m)
                .setRecall(m.getSelected() == 0 ? 0.0 : (double) m.getHits() / m.getSelected())
                .setPrecision(m.getPredicted() == 0 ? 0.0 : (double) m.getHits() / m.getPredicted())
                .setHitRate(m.getSamples() == 0 ? 0.0 : (double) m.getHitSamples() / m.getSamples())
                .setLayerRecall(layerRecall)
                .setLayerSpearman(spearman)
                .build();
    }

    private static List<Long> addLongs(List<Long> a, List<Long> b) {
        if (a.isEmpty()) {
            return b;
        }
        if (b.isEmpty()) {
            return a;
        }
        List<Long> s = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            s.add(a.get(i) + b.get(i));
        }
        return s;
    }

    private static List<Double> addDoubles(List<Double> a, List<Double> b) {
        if (a.isEmpty()) {
            return b;
        }
        if (b.isEmpty()) {
            return a;
        }
        List<Double> s = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            s.add(a.get(i) + b.get(i));
        }
        return s;
    }

    private void publishChanged(long now) {
        try (KeyValueIterator<String, PredictorMetrics> all = totals.all()) {
            while (all.hasNext()) {
                KeyValue<String, PredictorMetrics> entry = all.next();
                PredictorMetrics published = PredictorMetrics.newBuilder(entry.value).setEventTimeMs(now).build();
                PredictorMetrics last = lastPublished.get(entry.key);
                if (last != null && sameTotals(last, published)) {
                    continue;
                }
                lastPublished.put(entry.key, published);
                context.forward(new Record<>(entry.key, published, now));
            }
        }
    }

    private static boolean sameTotals(PredictorMetrics a, PredictorMetrics b) {
        return a.getSamples() == b.getSamples() && a.getHits() == b.getHits() && a.getSelected() == b.getSelected()
                && a.getRequests() == b.getRequests() && a.getN() == b.getN()
                && a.getLayerSpearmanRequests().equals(b.getLayerSpearmanRequests());
    }
}
