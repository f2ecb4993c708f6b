package io.expertcast.predictor;

import io.expertcast.core.predict.TransitionHeatmap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The counts {@link LayerHeatmapProcessor} keeps of one (model, MoE layer) in memory (Insight 2): the two
 * transition tables ({@link LayerTransitions}), the popularity of finished requests overall ("") and per workload
 * tag, what changed since the last publication, and where restored counts stand on moe.heatmap-lessons.
 */
final class LayerCounts {
    final String model;
    final int layer;
    final LayerTransitions transitions;
    final TransitionHeatmap token;
    final TransitionHeatmap nextLayer;
    final Map<String, double[]> popularity = new TreeMap<>(); // "" = all requests, then the tags kept
    /** The tags kept, least recently counted first (at most the max tags; the oldest is evicted). */
    final LinkedHashMap<String, Boolean> tagOrder = new LinkedHashMap<>(16, 0.75f, true);
    final Set<String> changedPopularity = new LinkedHashSet<>();
    boolean changedTransitions;
    boolean dirty;
    /** Transitions counted since the whole tables last went out; when they did (MIN_VALUE: never). */
    boolean wholeTablesBehind;
    long wholeTablesMs = Long.MIN_VALUE;
    /**
     * Where the restored counts stand on moe.heatmap-lessons: the offset of the last lesson the restored
     * transition tables, and each tag's popularity, hold (-1: none; {@link LayerHeatmapProcessor#UNKNOWN}: not
     * replayable, a snapshot written before v5); a tag without a snapshot stands where the transition tables do.
     */
    long transitionsOffset = -1;
    final Map<String, Long> popularityOffsets = new HashMap<>();

    LayerCounts(String model, int layer, int experts, double halfLife) {
        this.model = model;
        this.layer = layer;
        this.transitions = new LayerTransitions(experts, halfLife);
        this.token = transitions.token();
        this.nextLayer = transitions.nextLayer();
    }

    /** One v1 lesson entry of this layer (tokens [token][k], a request's previous token, the next layer's). */
    void observe(int k, int[] previous, int[] tokens, int[] next) {
        if (tokens.length >= k) {
            transitions.observe(k, previous, tokens, next);
            changedTransitions = true;
        }
    }

    /** Adds every non-zero cell of {@code from} into {@code to} (a restored snapshot into fresh counts). */
    static void copy(TransitionHeatmap from, TransitionHeatmap to) {
        int e = from.experts();
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                double c = from.count(0, i, j);
                if (c != 0) {
                    to.add(0, i, j, c);
                }
            }
        }
    }
}
