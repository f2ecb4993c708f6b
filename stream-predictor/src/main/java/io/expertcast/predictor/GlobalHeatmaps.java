package io.expertcast.predictor;

import io.expertcast.core.predict.LayerPopularity;
import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.core.predict.TransitionRows;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;

/**
 * How the per-request side reads the global heatmaps: {@link PredictorTopology#GLOBAL_HEATMAPS_STORE},
 * a global store every instance builds from moe.heatmaps, through {@link PublishedHeatmaps} (parsed once
 * per published snapshot, shared by the instance's tasks). Staleness: a heatmap seen here is at most
 * (heatmap publish interval + the topic's round trip) old; it never holds the record being processed
 * (that record reaches the aggregator through a repartition topic only after this task forwarded it).
 * Returned values are shared: callers must not modify them. One instance per processor (not thread-safe:
 * it keeps the per-layer keys it read, so the two reads per layer and decode step build no strings).
 */
final class GlobalHeatmaps {
    private final ReadOnlyKeyValueStore<String, ValueAndTimestamp<HeatmapSnapshot>> store;
    private final PublishedHeatmaps published;
    /** Per model, per layer: the keys of its token->token table and of its popularity of all requests. */
    private final Map<String, String[][]> layerKeys = new HashMap<>();

    GlobalHeatmaps(ReadOnlyKeyValueStore<String, ValueAndTimestamp<HeatmapSnapshot>> store,
                   PublishedHeatmaps published) {
        this.store = store;
        this.published = published;
    }

    /** The token->token table of a layer as last published (empty before any), rows for tokens of k experts. */
    TransitionRows tokenTransitions(String model, int layer, int experts, int k) {
        return published.get(keys(model, layer)[0], this::stored,
                s -> TransitionRows.of(s == null ? new TransitionHeatmap(1, experts)
                        : HeatmapSnapshots.toTransitions(s, 0), 0, k));
    }

    /** Finished requests' counts at a layer, of one tag (null: all requests); zeros before any. */
    LayerPopularity popularity(String model, int layer, String tag, int experts) {
        String key = tag == null ? keys(model, layer)[1] : HeatmapSnapshots.popularityKey(model, layer, tag);
        return published.get(key, this::stored,
                s -> new LayerPopularity(s == null ? new double[experts] : HeatmapSnapshots.toPopularity(s)));
    }

    private String[] keys(String model, int layer) {
        String[][] keys = layerKeys.get(model);
        if (keys == null || layer >= keys.length) {
            keys = new String[Math.max(layer + 1, keys == null ? 0 : keys.length)][];
            for (int l = 0; l < keys.length; l++) {
                keys[l] = new String[] {HeatmapSnapshots.key(model, l, HeatmapKind.TOKEN_TO_TOKEN),
                        HeatmapSnapshots.popularityKey(model, l, null)};
            }
            layerKeys.put(model, keys);
        }
        return keys[layer];
    }

    private HeatmapSnapshot stored(String key) {
        ValueAndTimestamp<HeatmapSnapshot> v = store.get(key);
        return v == null ? null : v.value();
    }
}
