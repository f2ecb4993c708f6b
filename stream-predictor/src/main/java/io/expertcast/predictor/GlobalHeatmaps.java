package io.expertcast.predictor;

import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.schemas.HeatmapKind;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * How the per-request side reads the global heatmaps: {@link PredictorTopology#GLOBAL_HEATMAPS_STORE},
 * a global store every instance builds from moe.heatmaps, through {@link PublishedHeatmaps} (parsed once
 * per published snapshot, shared by the instance's tasks). Staleness: a heatmap seen here is at most
 * (heatmap publish interval + the topic's round trip) old; it never holds the record being processed
 * (that record reaches the aggregator through a repartition topic only after this task forwarded it).
 * Returned values are shared: callers must not modify them.
 */
final class GlobalHeatmaps {
    private final ReadOnlyKeyValueStore<String, byte[]> store;
    private final PublishedHeatmaps published;

    GlobalHeatmaps(ReadOnlyKeyValueStore<String, byte[]> store,
                   PublishedHeatmaps published) {
        this.store = store;
        this.published = published;
    }

    /** The token->token table of a layer as last published (empty before any). */
    TokenTransitions tokenTransitions(String model, int layer, int experts) {
        return published.get(HeatmapSnapshots.key(model, layer, HeatmapKind.TOKEN_TO_TOKEN), this::stored,
                s -> new TokenTransitions(s == null ? new TransitionHeatmap(1, experts)
                        : HeatmapSnapshots.toTransitions(s, 0)));
    }

    /** Finished requests' counts at a layer, of one tag (null: all requests); zeros before any. */
    double[] popularity(String model, int layer, String tag, int experts) {
        return published.get(HeatmapSnapshots.popularityKey(model, layer, tag), this::stored,
                s -> s == null ? new double[experts] : HeatmapSnapshots.toPopularity(s));
    }

    private byte[] stored(String key) {
        return store.get(key);
    }
}
