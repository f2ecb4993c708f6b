package io.expertcast.predictor;

import io.expertcast.schemas.HeatmapKind;
import java.util.HashMap;
import java.util.Map;
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
    /** This reader's own index of the shared parsed tables, dropped whenever anything was published. */
    private final Map<String, TokenTransitions[]> tables = new HashMap<>();
    private final Map<String, double[][]> popularity = new HashMap<>();
    private long seenVersion = -1;

    GlobalHeatmaps(ReadOnlyKeyValueStore<String, byte[]> store,
                   PublishedHeatmaps published) {
        this.store = store;
        this.published = published;
    }

    /** The token->token table of a layer as last published (empty before any). */
    TokenTransitions tokenTransitions(String model, int layer, int layers, int experts) {
        TokenTransitions[] byLayer = current(tables).computeIfAbsent(model, m -> new TokenTransitions[layers]);
        TokenTransitions t = byLayer[layer];
        if (t == null) {
            t = published.get(HeatmapSnapshots.key(model, layer, HeatmapKind.TOKEN_TO_TOKEN), this::stored,
                    s -> TokenTransitions.of(s, experts));
            byLayer[layer] = t;
        }
        return t;
    }

    /** Finished requests' counts at a layer, all requests; zeros before any. */
    double[] popularity(String model, int layer, int layers, int experts) {
        double[][] byLayer = current(popularity).computeIfAbsent(model, m -> new double[layers][]);
        double[] p = byLayer[layer];
        if (p == null) {
            p = popularity(model, layer, null, experts);
            byLayer[layer] = p;
        }
        return p;
    }

    /** Finished requests' counts at a layer, of one tag (null: all requests); zeros before any. */
    double[] popularity(String model, int layer, String tag, int experts) {
        return published.get(HeatmapSnapshots.popularityKey(model, layer, tag), this::stored,
                s -> s == null ? new double[experts] : HeatmapSnapshots.toPopularity(s));
    }

    /** {@code index}, emptied first if a snapshot was published since this reader last looked. */
    private <V> Map<String, V> current(Map<String, V> index) {
        long version = published.version();
        if (version != seenVersion) {
            tables.clear();
            popularity.clear();
            seenVersion = version;
        }
        return index;
    }

    private byte[] stored(String key) {
        return store.get(key);
    }
}
