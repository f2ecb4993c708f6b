package io.expertcast.predictor;

import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;

/**
 * How the per-request side reads the global heatmaps: from {@link PredictorTopology#GLOBAL_HEATMAPS_STORE},
 * a global store every instance builds from moe.heatmaps, parsed once and reused for the settings'
 * table refresh. Staleness: a heatmap seen here is at most (heatmap publish interval + table refresh +
 * the topic's round trip) old; it never holds the record being processed (that record reaches the
 * aggregator through a repartition topic only after this task forwarded it).
 */
final class GlobalHeatmaps {
    private record Cached(long loadedAtMs, Object value) {
    }

    private final ReadOnlyKeyValueStore<String, ValueAndTimestamp<HeatmapSnapshot>> store;
    private final Duration refresh;
    private final LongSupplier clock;
    private final Map<String, Cached> cache = new HashMap<>();

    GlobalHeatmaps(ReadOnlyKeyValueStore<String, ValueAndTimestamp<HeatmapSnapshot>> store, Duration refresh,
                   LongSupplier clock) {
        this.store = store;
        this.refresh = refresh;
        this.clock = clock;
    }

    /** The token->token counts of a layer as last published (empty before any). */
    TransitionHeatmap tokenTransitions(String model, int layer, int experts) {
        return get(HeatmapSnapshots.key(model, layer, HeatmapKind.TOKEN_TO_TOKEN),
                s -> s == null ? new TransitionHeatmap(1, experts) : HeatmapSnapshots.toTransitions(s, 0));
    }

    /** Finished requests' counts at a layer, of one tag (null: all requests); zeros before any. */
    double[] popularity(String model, int layer, String tag, int experts) {
        return get(HeatmapSnapshots.popularityKey(model, layer, tag),
                s -> s == null ? new double[experts] : HeatmapSnapshots.toPopularity(s));
    }

    @SuppressWarnings("unchecked")
    private <T> T get(String key, Function<HeatmapSnapshot, T> parse) {
        long now = clock.getAsLong();
        Cached c = cache.get(key);
        if (c == null || refresh.isZero() || now - c.loadedAtMs >= refresh.toMillis()) {
            ValueAndTimestamp<HeatmapSnapshot> v = store.get(key);
            c = new Cached(now, parse.apply(v == null ? null : v.value()));
            cache.put(key, c);
        }
        return (T) c.value;
    }
}
