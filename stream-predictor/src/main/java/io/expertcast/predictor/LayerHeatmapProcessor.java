package io.expertcast.predictor;

import io.expertcast.core.predict.BlendedPredictor;
import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.LayerSelections;
import io.expertcast.schemas.LayerTokens;
import io.expertcast.schemas.PredictionLevel;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.streams.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The global heatmaps of Insight 2, per (model, MoE layer), aggregated on keys model/layer shard (the
 * settings' heatmap shards; as many as layers gives one key per layer) so that no key carries the whole
 * stream: token->token counts (a request's token t at this layer -> its token t+1), layer->layer counts
 * (a token at this layer -> the same token at the next MoE layer), both decaying with the settings'
 * half-life counted in tokens of the model, and the popularity of finished requests, overall and per
 * workload tag (not decayed, like the offline evaluation's).
 *
 * <p>The counts live in memory and, on the publication schedule (each layer once per interval, the
 * layers spread over the interval: {@link #PUBLICATION_SLICES}), go to moe.heatmaps and
 * moe.prediction-tables (top rows: LAYER level for the LLC, TOKEN level for HBM). On moe.heatmaps a
 * transition table goes out as its top rows at every publication ({@link HeatmapSnapshots#ofTopRows}: all
 * the per-request side's next-token prediction reads), and whole at most once per snapshot interval: whole
 * tables were 65 % of all the bytes the predictor wrote, for readers that need them only to restore. After
 * a restart or a rebalance a key's counts are restored from its last whole snapshot, read from
 * {@link PredictorTopology#GLOBAL_HEATMAPS_STORE} (the instance's copy of moe.heatmaps), so the snapshot is
 * written once, to the topic, not a second time to a store and its changelog. Writing a 256 x 256 table
 * per record would cost far more than counting it; the price is that a stop or crash loses the counts of
 * at most one snapshot interval (plus whatever the global store had not yet read of the topic when the
 * key was restored). Nothing is ever counted twice: a snapshot is written in a transaction with the
 * offsets it had read.
 */
final class LayerHeatmapProcessor implements Processor<String, LayerSelections, String, HeatmapPublication> {
    private final PredictorSettings settings;
    private final Map<String, LayerCounts[]> models = new HashMap<>(); // model -> counts by MoE layer
    private final List<LayerCounts> dirty = new ArrayList<>();       // changed since the last publication
    private ProcessorContext<String, HeatmapPublication> context;
    private ReadOnlyKeyValueStore<String, byte[]> published;

    /** The counts of one (model, layer). */
    private static final class LayerCounts {
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

        LayerCounts(String model, int layer, int experts, double halfLife) {
            this.model = model;
            this.layer = layer;
            this.transitions = new LayerTransitions(experts, halfLife);
            this.token = transitions.token();
            this.nextLayer = transitions.nextLayer();
        }
    }

    /** The Streams property bounding the workload tags whose popularity a (model, layer) keeps. */
    static final String MAX_TAGS_CONFIG = "expertcast.heatmap.max-tags";
    static final int DEFAULT_MAX_TAGS = 256;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LayerHeatmapProcessor.class);
    private int maxTags = DEFAULT_MAX_TAGS;
    private long evictedTags;
    private long lastEvictionLogMs = Long.MIN_VALUE / 2;

    LayerHeatmapProcessor(PredictorSettings settings) {
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<String, HeatmapPublication> context) {
        this.context = context;
        this.published = context.getStateStore(PredictorTopology.GLOBAL_HEATMAPS_STORE);
        Object max = context.appConfigs().get(MAX_TAGS_CONFIG);
        if (max != null) {
            maxTags = Integer.parseInt(max.toString());
            if (maxTags < 1) {
                throw new IllegalArgumentException(MAX_TAGS_CONFIG + " must be at least 1, got " + maxTags);
            }
        }
        if (!settings.heatmapPublishInterval().isZero()) {
            Duration interval = settings.heatmapPublishInterval();
            Duration tick = interval.dividedBy(PUBLICATION_SLICES);
            context.schedule(tick.isZero() ? interval : tick, PunctuationType.WALL_CLOCK_TIME, this::publishSlice);
        }
    }

    @Override
    public void process(Record<String, LayerSelections> record) {
        LayerSelections in = record.value();
        String problem = problem(in);
        if (problem != null) {
            // Only the request side writes this topic; a record it did not write (or a bug) must neither
            // stop the stream thread nor count half of itself.
            deadLetter(record, problem);
            return;
        }
        String model = in.getModel();
        int k = in.getTopK();
        int experts = in.getNumExperts();
        // v2: the tokens of many events, packed; observed layer by layer and table by table (each table
        // takes its layer's entries in the order the request side saw them, which is all it depends on), so
        // the table being counted stays in cache.
        if (in.getPacked().remaining() > 0) {
            PackedLayerTokens.forEachLayer(in.getPacked(), experts, k, (layer, entries) -> {
                LayerCounts counts = counts(model, layer, experts);
                if (counts.transitions.observe(k, entries) > 0) {
                    counts.changedTransitions = true;
                }
            });
        }
        for (LayerTokens layer : in.getLayers()) {
            LayerCounts counts = counts(model, layer.getLayer(), experts);
            observe(counts, k, layer.getPrevious().isEmpty() ? null : ints(layer.getPrevious()),
                    ints(layer.getTokens()), ints(layer.getNextLayer()));
            if (!layer.getFinishedCounts().isEmpty()) {
                addPopularity(counts, "", layer.getFinishedCounts(), record.timestamp());
                for (String tag : in.getTags()) {
                    addPopularity(counts, tag, layer.getFinishedCounts(), record.timestamp());
                }
            }
        }
        if (settings.heatmapPublishInterval().isZero()) {
            publishChanged(context.currentSystemTimeMs());
        }
    }

    /**
     * Why a record cannot be counted, or null: checked whole before anything is counted, so a record is
     * counted entirely or not at all. The model must be the catalog's with its experts and k; layers,
     * expert ids, row lengths and finished counts must fit it; packed entries must be whole.
     */
    private String problem(LayerSelections in) {
        var shape = settings.catalog().byId(in.getModel());
        if (shape.isEmpty()) {
            return "unknown model '" + in.getModel() + "'";
        }
        int layers = shape.get().numMoeLayers();
        int experts = shape.get().numExperts();
        int k = shape.get().topK();
        if (in.getNumExperts() != experts || in.getTopK() != k) {
            return "model " + in.getModel() + " has " + experts + " experts and k = " + k + ", the record says "
                    + in.getNumExperts() + " and " + in.getTopK();
        }
        String[] packedProblem = {null};
        try {
            PackedLayerTokens.forEach(in.getPacked(), experts, k, (layer, previous, tokens, next) -> {
                if (packedProblem[0] == null) {
                    packedProblem[0] = rowProblem(layer, layers, experts, k, previous, tokens, next);
                }
            });
        } catch (RuntimeException e) { // a cut-short entry
            return "packed tokens are not whole: " + e;
        }
        if (packedProblem[0] != null) {
            return packedProblem[0];
        }
        for (LayerTokens layer : in.getLayers()) {
            String p = rowProblem(layer.getLayer(), layers, experts, k,
                    layer.getPrevious().isEmpty() ? null : ints(layer.getPrevious()), ints(layer.getTokens()),
                    ints(layer.getNextLayer()));
            if (p != null) {
                return p;
            }
            List<Integer> finished = layer.getFinishedCounts();
            if (!finished.isEmpty() && finished.size() != experts) {
                return "layer " + layer.getLayer() + " has finished counts for " + finished.size() + " experts, not "
                        + experts;
            }
            for (int c : finished) {
                if (c < 0) {
                    return "layer " + layer.getLayer() + " has a negative finished count " + c;
                }
            }
        }
        return null;
    }

    private static String rowProblem(int layer, int layers, int experts, int k, int[] previous, int[] tokens,
                                     int[] next) {
        if (layer < 0 || layer >= layers) {
            return "layer " + layer + " out of range [0, " + layers + ")";
        }
        if (previous != null && previous.length != k || tokens.length % k != 0
                || next.length != 0 && next.length != tokens.length) {
            return "layer " + layer + ": rows are not k = " + k + " wide or the next layer's tokens do not match";
        }
        if (next.length > 0 && layer + 1 >= layers) {
            return "layer " + layer + " is the last MoE layer but has a next layer's tokens";
        }
        String bad = outOfRange(layer, previous == null ? tokens : previous, experts);
        bad = bad != null ? bad : outOfRange(layer, tokens, experts);
        return bad != null ? bad : outOfRange(layer, next, experts);
    }

    /** Why an id of {@code ids} is outside [0, experts), or null (runs for every entry of every batch). */
    private static String outOfRange(int layer, int[] ids, int experts) {
        for (int id : ids) {
            if (id < 0 || id >= experts) {
                return "layer " + layer + ": expert id " + id + " out of range [0, " + experts + ")";
            }
        }
        return null;
    }

    private void deadLetter(Record<String, LayerSelections> record, String reason) {
        var meta = context.recordMetadata();
        byte[] value = SerdeFactory.defaultFactory().serde(LayerSelections.class).serializer()
                .serialize(PredictorTopology.LAYER_SELECTIONS_REPARTITION, record.value());
        context.forward(new Record<>(record.key(), new HeatmapPublication(null, null, DeadLetters.of(
                settings.applicationName(),
                meta.map(RecordMetadata::topic).orElse(PredictorTopology.LAYER_SELECTIONS_REPARTITION),
                meta.map(RecordMetadata::partition).orElse(-1), meta.map(RecordMetadata::offset).orElse(-1L),
                reason, record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8), value)),
                record.timestamp()));
    }

    /** A (model, layer)'s counts, restored from its last snapshot when first seen; marked for publication. */
    private LayerCounts counts(String model, int layer, int experts) {
        LayerCounts[] byLayer = models.get(model);
        if (byLayer == null || byLayer.length <= layer) {
            byLayer = byLayer == null ? new LayerCounts[layer + 1] : Arrays.copyOf(byLayer, layer + 1);
            models.put(model, byLayer);
        }
        LayerCounts counts = byLayer[layer];
        if (counts == null) {
            counts = restore(model, layer, experts);
            byLayer[layer] = counts;
        }
        if (!counts.dirty) {
            counts.dirty = true;
            dirty.add(counts);
        }
        return counts;
    }

    private static void observe(LayerCounts counts, int k, int[] previous, int[] tokens, int[] next) {
        if (tokens.length >= k) {
            counts.transitions.observe(k, previous, tokens, next);
            counts.changedTransitions = true;
        }
    }

    private void addPopularity(LayerCounts counts, String tag, List<Integer> finished, long now) {
        if (!tag.isEmpty()) {
            keepTag(counts, tag, now);
        }
        double[] p = counts.popularity.computeIfAbsent(tag, t -> new double[counts.token.experts()]);
        for (int e = 0; e < p.length; e++) {
            p[e] += finished.get(e);
        }
        counts.changedPopularity.add(tag);
    }

    /** The counts of a key as last published (nothing after a first start, or for a snapshot not usable). */
    private LayerCounts restore(String model, int layer, int experts) {
        double halfLife = settings.heatmapHalfLifeTokens();
        LayerCounts counts = new LayerCounts(model, layer, experts, halfLife);
        for (HeatmapKind kind : List.of(HeatmapKind.TOKEN_TO_TOKEN, HeatmapKind.LAYER_TO_LAYER)) {
            String key = HeatmapSnapshots.key(model, layer, kind);
            TransitionHeatmap last = HeatmapSnapshots.parseOrEmpty(key, published.get(key),
                    s -> s == null || s.getNumExperts() != experts ? null : HeatmapSnapshots.toTransitions(s, halfLife));
            if (last != null) {
                copy(last, kind == HeatmapKind.TOKEN_TO_TOKEN ? counts.token : counts.nextLayer);
            }
        }
        String prefix = HeatmapSnapshots.popularityKey(model, layer, null);
        try (KeyValueIterator<String, byte[]> it = published.prefixScan(prefix, new StringSerializer())) {
            while (it.hasNext()) {
                var entry = it.next();
                Map.Entry<String, double[]> tagged = HeatmapSnapshots.parseOrEmpty(entry.key, entry.value,
                        x -> x == null || x.getKind() != HeatmapKind.POPULARITY || x.getNumExperts() != experts ? null
                                : Map.entry(x.getTag() == null ? "" : x.getTag(), HeatmapSnapshots.toPopularity(x)));
                if (tagged != null) {
                    if (!tagged.getKey().isEmpty()) {
                        keepTag(counts, tagged.getKey(), context.currentSystemTimeMs());
                    }
                    counts.popularity.put(tagged.getKey(), tagged.getValue());
                }
            }
        }
        return counts;
    }

    private static void copy(TransitionHeatmap from, TransitionHeatmap to) {
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

    /**
     * Marks {@code tag} as counted now; a tag new to a full (model, layer) evicts the least recently counted
     * one: its popularity leaves memory, and a tombstone deletes it from moe.heatmaps (its requests then plan
     * from the next broader tag, as a tag never seen does). Evictions are counted and logged once per minute.
     */
    private void keepTag(LayerCounts counts, String tag, long now) {
        if (counts.tagOrder.put(tag, Boolean.TRUE) != null || counts.tagOrder.size() <= maxTags) {
            return;
        }
        String evicted = counts.tagOrder.keySet().iterator().next();
        counts.tagOrder.remove(evicted);
        counts.popularity.remove(evicted);
        counts.changedPopularity.remove(evicted);
        context.forward(new Record<>(HeatmapSnapshots.popularityKey(counts.model, counts.layer, evicted),
                HeatmapPublication.tombstone(), now));
        evictedTags++;
        long wall = System.currentTimeMillis();
        if (wall - lastEvictionLogMs >= 60_000) {
            lastEvictionLogMs = wall;
            LOG.info("popularity of {} workload tag(s) evicted so far (at most {} tags per model and layer, {}); "
                    + "latest: {} of {} layer {}", evictedTags, maxTags, MAX_TAGS_CONFIG, evicted, counts.model,
                    counts.layer);
        }
    }

    /** Tags evicted so far by this processor. */
    long evictedTags() {
        return evictedTags;
    }

    /**
     * Each publication interval is cut into this many ticks, and a tick publishes the changed layers l with
     * l mod slices = the tick's slice: every layer still goes out once per interval, but a DeepSeek-V3
     * publication (~75 MB) leaves in tenths instead of at once. At once, it filled the producer's buffer
     * and the next exactly-once commit waited for all of it, so every prefetch command decided meanwhile
     * was late by that stall (bench predictor at 300 events/s: next-token p50 ~600 ms with publication,
     * 26 ms without).
     */
    static final int PUBLICATION_SLICES = 10;
    private long ticks;

    /** One tick of the publication schedule: the changed layers of its slice. */
    private void publishSlice(long now) {
        int slice = (int) (ticks++ % PUBLICATION_SLICES);
        publish(now, c -> c.layer % PUBLICATION_SLICES == slice);
    }

    /** Every changed heatmap of every changed key: to moe.heatmaps and moe.prediction-tables. */
    private void publishChanged(long now) {
        publish(now, c -> true);
    }

    /**
     * Successors kept per row in a top-rows snapshot: what the next-token prediction reads
     * ({@link BlendedPredictor#HEAT_ROW_WIDTH}), or the prediction tables' width if wider, so that the
     * interactive queries' tables can be built from it too.
     */
    private int topRowsWidth() {
        return Math.max(BlendedPredictor.HEAT_ROW_WIDTH, settings.tableWidth());
    }

    /**
     * Every changed heatmap of the changed keys {@code which} accepts (in the order they changed): the
     * transition tables' top rows and prediction tables, popularity; then the whole transition tables of
     * the accepted keys whose last whole tables are older than the snapshot interval and behind.
     */
    private void publish(long now, java.util.function.Predicate<LayerCounts> which) {
        for (var it = dirty.iterator(); it.hasNext(); ) {
            LayerCounts c = it.next();
            if (!which.test(c)) {
                continue;
            }
            it.remove();
            c.dirty = false;
            if (c.changedTransitions) {
                publish(HeatmapSnapshots.topRowsKey(c.model, c.layer, HeatmapKind.TOKEN_TO_TOKEN),
                        HeatmapSnapshots.ofTopRows(c.model, c.layer, HeatmapKind.TOKEN_TO_TOKEN, c.token,
                                topRowsWidth(), now), now);
                // Token-level rows drive HBM copies, layer-level rows LLC prefetch (Insight 2).
                context.forward(new Record<>(HeatmapSnapshots.tableKey(c.model, c.layer, PredictionLevel.TOKEN),
                        new HeatmapPublication(null, HeatmapSnapshots.table(c.model, c.layer, PredictionLevel.TOKEN,
                                c.token, settings.tableWidth(), now)), now));
                if (c.nextLayer.total(0) > 0) {
                    publish(HeatmapSnapshots.topRowsKey(c.model, c.layer, HeatmapKind.LAYER_TO_LAYER),
                            HeatmapSnapshots.ofTopRows(c.model, c.layer, HeatmapKind.LAYER_TO_LAYER, c.nextLayer,
                                    topRowsWidth(), now), now);
                    context.forward(new Record<>(HeatmapSnapshots.tableKey(c.model, c.layer, PredictionLevel.LAYER),
                            new HeatmapPublication(null, HeatmapSnapshots.table(c.model, c.layer,
                                    PredictionLevel.LAYER, c.nextLayer, settings.tableWidth(), now)), now));
                }
                c.changedTransitions = false;
                c.wholeTablesBehind = true;
            }
            for (String tag : c.changedPopularity) {
                String t = tag.isEmpty() ? null : tag;
                publish(HeatmapSnapshots.popularityKey(c.model, c.layer, t),
                        HeatmapSnapshots.ofPopularity(c.model, c.layer, t, c.popularity.get(tag), now), now);
            }
            c.changedPopularity.clear();
        }
        for (LayerCounts[] byLayer : models.values()) {
            for (LayerCounts c : byLayer) {
                if (c != null && c.wholeTablesBehind && which.test(c) && wholeTablesDue(c, now)) {
                    publishWholeTables(c, now);
                }
            }
        }
    }

    /**
     * Whole tables go out at most once per snapshot interval per key (at every publication when the interval
     * is not longer than the publication's), and still go out when the key stopped changing: a restart
     * restores from them.
     */
    private boolean wholeTablesDue(LayerCounts c, long now) {
        return settings.wholeTablesEveryPublication() || c.wholeTablesMs == Long.MIN_VALUE
                || now - c.wholeTablesMs >= settings.heatmapSnapshotInterval().toMillis();
    }

    /** The whole token->token and layer->layer tables of a key, to moe.heatmaps. */
    private void publishWholeTables(LayerCounts c, long now) {
        publish(HeatmapSnapshots.key(c.model, c.layer, HeatmapKind.TOKEN_TO_TOKEN),
                HeatmapSnapshots.ofTransitions(c.model, c.layer, HeatmapKind.TOKEN_TO_TOKEN, c.token, now), now);
        if (c.nextLayer.total(0) > 0) {
            publish(HeatmapSnapshots.key(c.model, c.layer, HeatmapKind.LAYER_TO_LAYER),
                    HeatmapSnapshots.ofTransitions(c.model, c.layer, HeatmapKind.LAYER_TO_LAYER, c.nextLayer, now), now);
        }
        c.wholeTablesBehind = false;
        c.wholeTablesMs = now;
    }

    private void publish(String key, HeatmapSnapshot snapshot, long now) {
        context.forward(new Record<>(key, new HeatmapPublication(snapshot, null), now));
    }

    static int[] ints(List<Integer> values) {
        int[] a = new int[values.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = values.get(i);
        }
        return a;
    }
}
