package io.expertcast.predictor;

import io.expertcast.schemas.PredictorMetrics;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Sums the per-step scores of {@link RequestForecastProcessor} per model (key = model) in
 * {@link PredictorTopology#ACCURACY_STORE} and publishes the cumulative {@link PredictorMetrics} on a
 * wall-clock schedule, only for models whose totals changed since this task last published them
 * (after a restart, every model is published once).
 */
final class DecodeAccuracyAggregator implements Processor<String, PredictorMetrics, String, PredictorMetrics> {
    private final Duration interval;
    private final Map<String, PredictorMetrics> lastPublished = new HashMap<>();
    private ProcessorContext<String, PredictorMetrics> context;
    private KeyValueStore<String, PredictorMetrics> totals;

    DecodeAccuracyAggregator(Duration interval) {
        this.interval = interval;
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
        PredictorMetrics total = totals.get(record.key());
        if (total == null) {
            totals.put(record.key(), delta);
            return;
        }
        long hits = total.getHits() + delta.getHits();
        long selected = total.getSelected() + delta.getSelected();
        long samples = total.getSamples() + delta.getSamples();
        long predicted = total.getPredicted() + delta.getPredicted();
        long hitSamples = total.getHitSamples() + delta.getHitSamples();
        totals.put(record.key(), PredictorMetrics.newBuilder(total)
                .setPredicted(predicted)
                .setHitSamples(hitSamples)
                .setPrecision(predicted == 0 ? 0.0 : (double) hits / predicted)
                .setHitRate(samples == 0 ? 0.0 : (double) hitSamples / samples)
                .setN(delta.getN())
                .setSamples(samples)
                .setHits(hits)
                .setSelected(selected)
                .setRecall(selected == 0 ? 0.0 : (double) hits / selected)
                .setRequests(total.getRequests() + delta.getRequests())
                .setEventTimeMs(Math.max(total.getEventTimeMs(), delta.getEventTimeMs()))
                .build());
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
                && a.getRequests() == b.getRequests() && a.getN() == b.getN();
    }
}
