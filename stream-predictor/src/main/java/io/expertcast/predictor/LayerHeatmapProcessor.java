package io.expertcast.predictor;

import io.expertcast.core.predict.BlendedPredictor;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.LayerSelections;
import io.expertcast.schemas.LayerTokens;
import io.expertcast.schemas.PredictionLevel;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.DeadLetters;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.function.Consumer;
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
 * transition table goes out as its top rows at every publication ({@link HeatmapRecords#ofTopRows}: all
 * the per-request side's next-token prediction reads), and whole at most once per snapshot interval: whole
 * tables were 65 % of all the bytes the predictor wrote, for readers that need them only to restore. After
 * a restart or a rebalance a key's counts are restored from its last whole snapshots, read from
 * {@link PredictorTopology#GLOBAL_HEATMAPS_STORE} (the instance's copy of moe.heatmaps), so the snapshot is
 * written once, to the topic, not a second time to a store and its changelog (writing a 256 x 256 table per
 * record would cost far more than counting it). Every snapshot says which lessons it holds (the input
 * partition and the offset of the last lesson counted, HeatmapSnapshot v5), and the input, moe.heatmap-lessons,
 * is retained: restoring a key replays its lessons after its snapshots' offsets up to where this task
 * started ({@link HeatmapLessonsReplay}), so a crash loses nothing and counts nothing twice, whatever the
 * snapshot interval and however far behind the global store was. Lessons removed by retention before they
 * could be replayed are counted ({@link #lostLessons}) and logged as an error.
 */
final class LayerHeatmapProcessor implements Processor<String, LayerSelections, String, HeatmapAggregatorOutput> {
    private final PredictorSettings settings;
    private final Map<String, LayerCounts[]> models = new HashMap<>(); // model -> counts by MoE layer
    private final List<LayerCounts> dirty = new ArrayList<>();       // changed since the last publication
    private ProcessorContext<String, HeatmapAggregatorOutput> context;
    private ReadOnlyKeyValueStore<String, byte[]> published;

    /** The Streams property bounding the workload tags whose popularity a (model, layer) keeps. */
    static final String MAX_TAGS_CONFIG = "expertcast.heatmap.max-tags";
    static final int DEFAULT_MAX_TAGS = 256;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LayerHeatmapProcessor.class);
    private int maxTags = DEFAULT_MAX_TAGS;
    private long evictedTags;
    /** A restored count that cannot be replayed into (snapshot before v5, or of another partition). */
    static final long UNKNOWN = Long.MAX_VALUE;
    /** The lesson partition this task reads, its first offset since init and the last one processed. */
    private int inputPartition = -1;
    private long firstOffset = -1;
    private long lastOffset = -1;
    /** Record keys (model/shard) whose layers were restored and replayed since init. */
    private final Set<String> restoredKeys = new java.util.HashSet<>();
    /**
     * Per restored key, the newest lesson offset one of its restored snapshots holds: a lesson at or before it
     * is counted only into the layers (and tags) whose snapshots do not hold it. Only an application that reads
     * the lessons again from before its snapshots meets one: its consumer offsets were reset, or it took over
     * from another application ({@link PredictorRole}).
     */
    private final Map<String, Long> heldUpTo = new HashMap<>();
    private HeatmapLessonsReplay replay;
    /** Counts the live lessons beside the stream thread; null: counted on it (per-record publication). */
    private HeatmapCounter counter;
    private long lostLessons;
    private long lastEvictionLogMs = Long.MIN_VALUE / 2;

    LayerHeatmapProcessor(PredictorSettings settings) {
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<String, HeatmapAggregatorOutput> context) {
        this.context = context;
        this.published = context.getStateStore(PredictorTopology.GLOBAL_HEATMAPS_STORE);
        // A task revived after a failure: what memory holds since the last commit was not committed.
        closeCounter();
        if (!settings.heatmapPublishInterval().isZero()) {
            counter = new HeatmapCounter(Thread.currentThread().getName());
        }
        models.clear();
        dirty.clear();
        publication = null;
        publicationRecords = null;
        restoredKeys.clear();
        heldUpTo.clear();
        inputPartition = -1;
        firstOffset = -1;
        lastOffset = -1;
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

    private void closeCounter() {
        if (counter != null) {
            counter.close();
            counter = null;
        }
    }

    /** Everything handed to the counter is in the tables: before anything reads them. */
    private void counted() {
        if (counter != null) {
            counter.drain();
        }
    }

    @Override
    public void close() {
        closeCounter();
        if (replay != null) {
            replay.close();
            replay = null;
        }
    }

    @Override
    public void process(Record<String, LayerSelections> record) {
        LayerSelections in = record.value();
        var meta = context.recordMetadata();
        long offset = meta.map(RecordMetadata::offset).orElse(-1L);
        if (firstOffset < 0 && offset >= 0) {
            firstOffset = offset;
            inputPartition = meta.get().partition();
        }
        lastOffset = Math.max(lastOffset, offset);
        String problem = LessonProblems.of(settings.catalog(), in);
        if (problem != null) {
            // Only the request side writes this topic; a record it did not write (or a bug) must neither
            // stop the stream thread nor count half of itself.
            deadLetter(record, problem);
            return;
        }
        restoreKey(record.key(), in.getModel(), in.getNumExperts());
        if (offset >= 0 && offset <= heldUpTo.getOrDefault(record.key(), -1L)) {
            counted(); // checked layer by layer, on this thread
            count(in, record.timestamp(), offset, false); // its counts may be in a snapshot already
        } else {
            count(in, record.timestamp(), -1, false);
        }
        if (settings.heatmapPublishInterval().isZero()) {
            publishChanged(context.currentSystemTimeMs());
        }
    }

    /**
     * Counts a lesson; when {@code offset} is not -1, only into what the restored snapshots do not already hold
     * (a lesson read back while restoring, {@code replaying}, or one a restored snapshot may hold).
     */
    private void count(LayerSelections in, long timestamp, long offset, boolean replaying) {
        boolean checked = offset >= 0;
        String model = in.getModel();
        int k = in.getTopK();
        int experts = in.getNumExperts();
        // v2: the tokens of many events, packed; observed layer by layer and table by table (each table
        // takes its layer's entries in the order the request side saw them, which is all it depends on), so
        // the table being counted stays in cache.
        if (in.getPacked().remaining() > 0 && !checked && counter != null) {
            // The layers' counts are found (or restored) here, the cell adds run on the counter's thread.
            List<LayerCounts> touched = new ArrayList<>();
            PackedLayerTokens.forEachLayer(in.getPacked(), experts, k,
                    (layer, entries) -> touched.add(counts(model, layer, experts)));
            ByteBuffer packed = in.getPacked();
            counter.submit(() -> PackedLayerTokens.forEachLayer(packed, experts, k, (layer, entries) -> {
                for (LayerCounts counts : touched) {
                    if (counts.layer == layer) {
                        if (counts.transitions.observe(k, entries) > 0) {
                            counts.changedTransitions = true;
                        }
                        return;
                    }
                }
            }));
        } else if (in.getPacked().remaining() > 0) {
            PackedLayerTokens.forEachLayer(in.getPacked(), experts, k, (layer, entries) -> {
                LayerCounts counts = counts(model, layer, experts);
                if (checked && holds(counts.transitionsOffset, offset, replaying)) {
                    return;
                }
                if (counts.transitions.observe(k, entries) > 0) {
                    counts.changedTransitions = true;
                }
            });
        }
        for (LayerTokens layer : in.getLayers()) {
            LayerCounts counts = counts(model, layer.getLayer(), experts);
            if (!layer.getTokens().isEmpty()) {
                counted(); // v1 tokens are counted on this thread
            }
            if (!checked || !holds(counts.transitionsOffset, offset, replaying)) {
                counts.observe(k, layer.getPrevious().isEmpty() ? null : ints(layer.getPrevious()),
                        ints(layer.getTokens()), ints(layer.getNextLayer()));
            }
            if (!layer.getFinishedCounts().isEmpty()) {
                List<String> tags = new ArrayList<>(in.getTags().size() + 1);
                tags.add("");
                tags.addAll(in.getTags());
                for (String tag : tags) {
                    if (!checked || !holds(counts.popularityOffsets.getOrDefault(tag, counts.transitionsOffset),
                            offset, replaying)) {
                        addPopularity(counts, tag, layer.getFinishedCounts(), timestamp);
                    }
                }
            }
        }
    }

    /**
     * Whether counts restored from a snapshot holding the lessons up to {@code snapshotOffset} (-1: none) hold the
     * one at {@code offset}. A snapshot that cannot say ({@link #UNKNOWN}) is taken to hold what was written before
     * this task started (the lessons a restore replays), not what it reads live.
     */
    private static boolean holds(long snapshotOffset, long offset, boolean replaying) {
        return snapshotOffset == UNKNOWN ? replaying : offset <= snapshotOffset;
    }

    /**
     * Restores, once per key since init, every layer of a record key (model/shard): each from its last whole
     * snapshots, then the key's lessons after the oldest of their offsets, up to the first this task
     * processed (all committed before it started), replayed from moe.heatmap-lessons. A key that is not
     * model/shard of a known model restores layer by layer as it is counted, without replay.
     */
    private void restoreKey(String key, String model, int experts) {
        if (key == null || !restoredKeys.add(key) || !key.startsWith(model + "/")) {
            return;
        }
        counted(); // the replay counts into the tables on this thread
        var shape = settings.catalog().byId(model);
        int shard;
        try {
            shard = Integer.parseInt(key.substring(model.length() + 1));
        } catch (NumberFormatException e) {
            return;
        }
        int layers = shape.get().numMoeLayers();
        int shards = Math.min(settings.heatmapShards(), layers);
        long from = UNKNOWN;      // the oldest lesson some restored count lacks
        long snapshotFrom = UNKNOWN; // the same, of the counts restored from a snapshot
        long held = -1;              // the newest lesson some restored count holds
        for (int l = shard; l < layers && shard < shards; l += shards) {
            LayerCounts c = layerCounts(model, l, experts);
            List<Long> offsets = new ArrayList<>(c.popularityOffsets.values());
            offsets.add(c.transitionsOffset);
            for (long o : offsets) {
                if (o != UNKNOWN) {
                    from = Math.min(from, o + 1);
                    held = Math.max(held, o);
                    if (o >= 0) {
                        snapshotFrom = Math.min(snapshotFrom, o + 1);
                    }
                }
            }
        }
        if (held >= 0) {
            heldUpTo.put(key, held);
        }
        if (from == UNKNOWN || firstOffset < 0 || from >= firstOffset) {
            return;
        }
        if (replay == null) {
            replay = new HeatmapLessonsReplay(context.appConfigs(), settings.applicationId() + "-lessons-replay-"
                    + context.taskId());
        }
        long beginning = replay.beginning(inputPartition);
        if (beginning > snapshotFrom) {
            long lost = Math.min(beginning, firstOffset) - snapshotFrom;
            lostLessons += lost;
            LOG.error("moe.heatmap-lessons partition {}: the lessons of {} at offsets [{}, {}) are gone (retention) "
                    + "before they were replayed: the restored heatmaps lack them ({} offsets lost so far). Keep the "
                    + "topic's retention.ms well above the snapshot interval plus any downtime.", inputPartition, key,
                    snapshotFrom, beginning, lostLessons);
        }
        long start = Math.max(from, beginning);
        if (start >= firstOffset) {
            return;
        }
        long t0 = System.nanoTime();
        long[] replayed = {0};
        long stalled = replay.replay(inputPartition, key, start, firstOffset, (offset, timestamp, lesson) -> {
            if (LessonProblems.of(settings.catalog(), lesson) == null) { // a lesson dead-lettered when it came is skipped again
                count(lesson, timestamp, offset, true);
                replayed[0]++;
            }
        });
        lostLessons += stalled;
        LOG.info("{}: restored from its snapshots, then {} lessons at offsets [{}, {}) of moe.heatmap-lessons "
                + "partition {} replayed in {} ms", key, replayed[0], start, firstOffset, inputPartition,
                (System.nanoTime() - t0) / 1_000_000);
    }

    /** Lesson offsets lost to retention (or a stalled broker) before a restore could replay them. */
    long lostLessons() {
        return lostLessons;
    }

    private void deadLetter(Record<String, LayerSelections> record, String reason) {
        var meta = context.recordMetadata();
        byte[] value = SerdeFactory.defaultFactory().serde(LayerSelections.class).serializer()
                .serialize(Topics.HEATMAP_LESSONS.name(), record.value());
        context.forward(new Record<>(record.key(), new HeatmapAggregatorOutput(null, null, DeadLetters.of(
                settings.applicationName(),
                meta.map(RecordMetadata::topic).orElse(Topics.HEATMAP_LESSONS.name()),
                meta.map(RecordMetadata::partition).orElse(-1), meta.map(RecordMetadata::offset).orElse(-1L),
                reason, record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8), value)),
                record.timestamp()));
    }

    /** A (model, layer)'s counts, restored from its last snapshot when first seen; marked for publication. */
    private LayerCounts counts(String model, int layer, int experts) {
        LayerCounts counts = layerCounts(model, layer, experts);
        if (!counts.dirty) {
            counts.dirty = true;
            dirty.add(counts);
        }
        return counts;
    }

    /** A (model, layer)'s counts, restored from its last snapshot when first seen. */
    private LayerCounts layerCounts(String model, int layer, int experts) {
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
        return counts;
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
        long[] offsets = {-1, -1};
        for (HeatmapKind kind : List.of(HeatmapKind.TOKEN_TO_TOKEN, HeatmapKind.LAYER_TO_LAYER)) {
            String key = HeatmapRecords.key(model, layer, kind);
            HeatmapSnapshot snapshot = HeatmapRecords.parseOrEmpty(key, published.get(key),
                    s -> s == null || s.getNumExperts() != experts ? null : s);
            if (snapshot != null) {
                LayerCounts.copy(HeatmapRecords.toTransitions(snapshot, halfLife),
                        kind == HeatmapKind.TOKEN_TO_TOKEN ? counts.token : counts.nextLayer);
                offsets[kind == HeatmapKind.TOKEN_TO_TOKEN ? 0 : 1] = inputOffset(key, snapshot);
            }
        }
        // Both whole tables go out together; the layer->layer one is left out while empty (the last layer).
        counts.transitionsOffset = offsets[0];
        if (offsets[1] != -1 && offsets[1] != offsets[0]) {
            LOG.warn("{} layer {}: the token and layer transition snapshots hold lessons up to offsets {} and {}; "
                    + "replaying after the first", model, layer, offsets[0], offsets[1]);
        }
        String prefix = HeatmapRecords.popularityKey(model, layer, null);
        try (KeyValueIterator<String, byte[]> it = published.prefixScan(prefix, new StringSerializer())) {
            while (it.hasNext()) {
                var entry = it.next();
                HeatmapSnapshot x = HeatmapRecords.parseOrEmpty(entry.key, entry.value,
                        y -> y == null || y.getKind() != HeatmapKind.POPULARITY || y.getNumExperts() != experts ? null
                                : y);
                if (x != null) {
                    String tag = x.getTag() == null ? "" : x.getTag();
                    if (!tag.isEmpty()) {
                        keepTag(counts, tag, context.currentSystemTimeMs());
                    }
                    counts.popularity.put(tag, HeatmapRecords.toPopularity(x));
                    counts.popularityOffsets.put(tag, inputOffset(entry.key, x));
                }
            }
        }
        return counts;
    }

    /**
     * The offset of the last lesson a snapshot holds, on this task's partition; {@link #UNKNOWN} for a snapshot
     * written before v5 or of another partition (the partition count or the shards changed): used as it is.
     */
    private long inputOffset(String key, HeatmapSnapshot s) {
        if (s.getInputPartition() < 0) {
            return UNKNOWN;
        }
        if (s.getInputPartition() != inputPartition) {
            LOG.warn("{}: the snapshot holds lessons of moe.heatmap-lessons partition {}, this task reads partition {} "
                    + "(partitions or shards changed?): restored as it is, nothing replayed into it", key,
                    s.getInputPartition(), inputPartition);
            return UNKNOWN;
        }
        return s.getInputOffset();
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
        context.forward(new Record<>(HeatmapRecords.popularityKey(counts.model, counts.layer, evicted),
                HeatmapAggregatorOutput.tombstone(), now));
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

    /**
     * One tick of the publication schedule: the previous tick's snapshots go out, then the changed layers of
     * this tick's slice are taken. With a counter, the transition tables' snapshots are made on its thread
     * (top rows, prediction tables and whole tables of a slice: tens of ms for DeepSeek-V3, which stalled every
     * decode event behind them on the stream thread), after the counting handed over before, so they hold
     * exactly the lessons up to the offset they name; they are forwarded at the next tick, one tick (half a
     * second by default) later. A tick waits for the previous one's snapshots only if the counter is that far
     * behind.
     */
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

    /** The snapshots made on the counter's thread at the last tick, with the task making them; null: none. */
    private Future<?> publication;
    private List<Record<String, HeatmapAggregatorOutput>> publicationRecords;

    /** Forwards the last tick's snapshots, once they are made. */
    private void forwardPublication() {
        if (publication == null) {
            return;
        }
        counter.await(publication);
        publication = null;
        for (Record<String, HeatmapAggregatorOutput> r : publicationRecords) {
            context.forward(r);
        }
        publicationRecords = null;
    }

    /**
     * Every changed heatmap of the changed keys {@code which} accepts (in the order they changed): popularity
     * here (this thread keeps it), then the transition tables' top rows and prediction tables, and the whole
     * transition tables of the accepted keys whose last whole tables are older than the snapshot interval and
     * behind: on this thread without a counter, else made on the counter's and forwarded at the next tick.
     */
    private void publish(long now, java.util.function.Predicate<LayerCounts> which) {
        int partition = inputPartition;
        long offset = lastOffset;
        List<LayerCounts> changed = new ArrayList<>();
        for (var it = dirty.iterator(); it.hasNext(); ) {
            LayerCounts c = it.next();
            if (!which.test(c)) {
                continue;
            }
            it.remove();
            c.dirty = false;
            changed.add(c);
            for (String tag : c.changedPopularity) {
                String t = tag.isEmpty() ? null : tag;
                context.forward(snapshot(HeatmapRecords.popularityKey(c.model, c.layer, t),
                        HeatmapRecords.ofPopularity(c.model, c.layer, t, c.popularity.get(tag), now), now, partition,
                        offset));
            }
            c.changedPopularity.clear();
        }
        List<LayerCounts> accepted = new ArrayList<>();
        for (LayerCounts[] byLayer : models.values()) {
            for (LayerCounts c : byLayer) {
                if (c != null && which.test(c)) {
                    accepted.add(c);
                }
            }
        }
        if (counter == null) {
            transitionSnapshots(changed, accepted, now, partition, offset, context::forward);
        } else {
            forwardPublication(); // the previous tick's, before this tick's replaces it
            List<Record<String, HeatmapAggregatorOutput>> out = new ArrayList<>();
            publicationRecords = out;
            publication = counter.submit(() -> transitionSnapshots(changed, accepted, now, partition, offset, out::add));
        }
    }

    /**
     * The transition tables' snapshots of a publication into {@code out}: top rows and prediction tables of the
     * {@code changed} keys whose transitions changed, then whole tables of the {@code accepted} keys due. Reads
     * and clears the keys' transition flags: on the thread that counts.
     */
    private void transitionSnapshots(List<LayerCounts> changed, List<LayerCounts> accepted, long now, int partition,
                                     long offset, Consumer<Record<String, HeatmapAggregatorOutput>> out) {
        for (LayerCounts c : changed) {
            if (!c.changedTransitions) {
                continue;
            }
            out.accept(snapshot(HeatmapRecords.topRowsKey(c.model, c.layer, HeatmapKind.TOKEN_TO_TOKEN),
                    HeatmapRecords.ofTopRows(c.model, c.layer, HeatmapKind.TOKEN_TO_TOKEN, c.token, topRowsWidth(), now),
                    now, partition, offset));
            // Token-level rows drive HBM copies, layer-level rows LLC prefetch (Insight 2).
            out.accept(new Record<>(HeatmapRecords.tableKey(c.model, c.layer, PredictionLevel.TOKEN),
                    new HeatmapAggregatorOutput(null, HeatmapRecords.table(c.model, c.layer, PredictionLevel.TOKEN,
                            c.token, settings.tableWidth(), now)), now));
            if (c.nextLayer.total(0) > 0) {
                out.accept(snapshot(HeatmapRecords.topRowsKey(c.model, c.layer, HeatmapKind.LAYER_TO_LAYER),
                        HeatmapRecords.ofTopRows(c.model, c.layer, HeatmapKind.LAYER_TO_LAYER, c.nextLayer,
                                topRowsWidth(), now), now, partition, offset));
                out.accept(new Record<>(HeatmapRecords.tableKey(c.model, c.layer, PredictionLevel.LAYER),
                        new HeatmapAggregatorOutput(null, HeatmapRecords.table(c.model, c.layer,
                                PredictionLevel.LAYER, c.nextLayer, settings.tableWidth(), now)), now));
            }
            c.changedTransitions = false;
            c.wholeTablesBehind = true;
        }
        for (LayerCounts c : accepted) {
            if (c.wholeTablesBehind && wholeTablesDue(c, now)) {
                out.accept(snapshot(HeatmapRecords.key(c.model, c.layer, HeatmapKind.TOKEN_TO_TOKEN),
                        HeatmapRecords.ofTransitions(c.model, c.layer, HeatmapKind.TOKEN_TO_TOKEN, c.token, now), now,
                        partition, offset));
                if (c.nextLayer.total(0) > 0) {
                    out.accept(snapshot(HeatmapRecords.key(c.model, c.layer, HeatmapKind.LAYER_TO_LAYER),
                            HeatmapRecords.ofTransitions(c.model, c.layer, HeatmapKind.LAYER_TO_LAYER, c.nextLayer,
                                    now), now, partition, offset));
                }
                c.wholeTablesBehind = false;
                c.wholeTablesMs = now;
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

    /** A snapshot's record, saying what its counts hold: a restart replays the lessons after {@code offset}. */
    private static Record<String, HeatmapAggregatorOutput> snapshot(String key, HeatmapSnapshot snapshot, long now,
                                                                    int partition, long offset) {
        snapshot.setInputPartition(partition); // set in place: no copy of the cells
        snapshot.setInputOffset(offset);
        return new Record<>(key, new HeatmapAggregatorOutput(snapshot, null), now);
    }

    static int[] ints(List<Integer> values) {
        int[] a = new int[values.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = values.get(i);
        }
        return a;
    }
}
