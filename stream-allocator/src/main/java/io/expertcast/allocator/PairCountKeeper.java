package io.expertcast.allocator;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.CoActivation;
import io.expertcast.core.placement.DecayedPairCounts;
import io.expertcast.schemas.PairCounts;
import io.expertcast.schemas.PairObservation;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Insight 5 live: per model its decayed co-activation counts per MoE layer ({@link DecayedPairCounts},
 * decayed at each pass like the workload profiles: every layer once per pass), counted from the
 * passes' {@link PairObservation}s, exactly once across restarts, and with a bounded changelog.
 * Rewriting the counts at every commit would send a whole model's 7.6 MB (DeepSeek-V3) to the
 * changelog five times a second; instead every observation is appended to a pending log (store
 * {@link AllocatorTopology#PAIR_PENDING_STORE}, key model/sequence, the observation as it came, at
 * most 59 KB) and every {@link #SNAPSHOT_EVERY_PASSES} passes the counts are written once (store
 * {@link AllocatorTopology#PAIR_COUNTS_STORE}, one record per model and layer, 130 KB for 256 experts)
 * and the log is deleted. A restart loads the snapshots and replays the log in order: the same float
 * operations in the same order, so the counts are the ones it had.
 */
final class PairCountKeeper {
    private static final Logger LOG = LoggerFactory.getLogger(PairCountKeeper.class);
    /** Passes between snapshots: the changelog carries a model's counts once per this many passes. */
    static final int SNAPSHOT_EVERY_PASSES = 64;

    private final ModelCatalog catalog;
    private final double decay;
    private final KeyValueStore<String, PairCounts> snapshots;
    private final KeyValueStore<String, PairObservation> pending;
    private final Map<String, Model> models = new HashMap<>();
    private int[] cells = new int[0];
    private long[] counts = new long[0];
    private int[] ids = new int[0];
    private CoActivation counter;

    private static final class Model {
        final DecayedPairCounts counts;
        final long[] observations;
        final long[] eventTimeMs;
        long nextSeq;
        long pending;

        Model(ModelShape shape, double decay) {
            counts = new DecayedPairCounts(shape.numMoeLayers(), shape.numExperts(), decay);
            observations = new long[shape.numMoeLayers()];
            eventTimeMs = new long[shape.numMoeLayers()];
        }
    }

    PairCountKeeper(ModelCatalog catalog, double decay, KeyValueStore<String, PairCounts> snapshots,
                    KeyValueStore<String, PairObservation> pending) {
        this.catalog = catalog;
        this.decay = decay;
        this.snapshots = snapshots;
        this.pending = pending;
        restore();
    }

    /** Adds one pass's co-activations; writes a snapshot when enough passes are pending. */
    void observe(PairObservation o) {
        // Observations come from passes validated before assembly, built with the catalog's shapes.
        ModelShape shape = catalog.byId(o.getModel()).orElseThrow();
        if (!fits(shape, o)) {
            throw new IllegalStateException("pair observation of " + o.getModel() + " has " + o.getNumMoeLayers() + " x "
                    + o.getNumExperts() + " top-" + o.getTopK() + ", the catalog " + shape.numMoeLayers() + " x "
                    + shape.numExperts() + " top-" + shape.topK());
        }
        Model m = modelOf(shape);
        apply(m, o);
        pending.put(pendingKey(shape.id(), m.nextSeq++), o);
        if (++m.pending >= SNAPSHOT_EVERY_PASSES) {
            snapshot(shape, m);
        }
    }

    private static boolean fits(ModelShape shape, PairObservation o) {
        return o.getNumMoeLayers() == shape.numMoeLayers() && o.getNumExperts() == shape.numExperts()
                && o.getTopK() == shape.topK() && o.getWeight() >= 1
                && o.getExpertIds().remaining() == (long) o.getTokens() * shape.numMoeLayers() * shape.topK() * 2;
    }

    /** The model's decayed counts, or empty if it has none. */
    Optional<DecayedPairCounts> counts(String model) {
        Model m = models.get(model);
        return m == null ? Optional.empty() : Optional.of(m.counts);
    }

    /** Observations of {@code layer} folded into the model's counts. */
    long observations(String model, int layer) {
        Model m = models.get(model);
        return m == null ? 0 : m.observations[layer];
    }

    /** Counts the pass's co-activations layer by layer and folds them into the decayed counts. */
    private void apply(Model m, PairObservation o) {
        int experts = o.getNumExperts();
        if (counter == null || counter.experts() != experts) {
            counter = new CoActivation(experts);
        }
        if (ids.length < o.getTopK()) {
            ids = new int[o.getTopK()];
        }
        for (int layer = 0; layer < o.getNumMoeLayers(); layer++) {
            PairObservations.count(o, layer, counter, ids);
            int n = counter.distinctPairs();
            if (cells.length < n) {
                cells = new int[n];
                counts = new long[n];
            }
            for (int p = 0; p < n; p++) {
                cells[p] = counter.cell(p);
                counts[p] = counter.count(cells[p]) * o.getWeight();
            }
            m.counts.observe(layer, cells, counts, n);
            m.observations[layer]++;
            m.eventTimeMs[layer] = o.getEventTimeMs();
        }
        counter.clear();
    }

    private void snapshot(ModelShape shape, Model m) {
        for (int layer = 0; layer < shape.numMoeLayers(); layer++) {
            if (m.counts.observed(layer)) {
                snapshots.put(shape.id() + "/" + layer, new PairCounts(shape.id(), layer, shape.numExperts(),
                        m.counts.pack(layer), m.counts.scale(layer), m.observations[layer], m.eventTimeMs[layer]));
            }
        }
        List<String> done = new ArrayList<>();
        try (KeyValueIterator<String, PairObservation> it = pending.range(pendingKey(shape.id(), 0),
                pendingKey(shape.id(), m.nextSeq))) {
            it.forEachRemaining(kv -> done.add(kv.key));
        }
        done.forEach(pending::delete);
        m.pending = 0;
        m.nextSeq = 0;
    }

    private void restore() {
        models.clear();
        try (KeyValueIterator<String, PairCounts> all = snapshots.all()) {
            while (all.hasNext()) {
                PairCounts c = all.next().value;
                Optional<ModelShape> shape = catalog.byId(c.getModel());
                if (shape.isEmpty() || shape.get().numExperts() != c.getNumExperts()
                        || c.getMoeLayer() >= shape.get().numMoeLayers()) {
                    LOG.warn("pair counts {}/{} do not fit the catalog's model; not restored", c.getModel(), c.getMoeLayer());
                    continue;
                }
                Model m = modelOf(shape.get());
                m.counts.restore(c.getMoeLayer(), c.getCounts(), c.getScale());
                m.observations[c.getMoeLayer()] = c.getObservations();
                m.eventTimeMs[c.getMoeLayer()] = c.getEventTimeMs();
            }
        }
        // Keys sort by model, then by the zero-padded sequence: the order they were observed in.
        long replayed = 0;
        try (KeyValueIterator<String, PairObservation> all = pending.all()) {
            while (all.hasNext()) {
                var kv = all.next();
                Optional<ModelShape> shape = catalog.byId(kv.value.getModel());
                if (shape.isEmpty() || !fits(shape.get(), kv.value)) {
                    LOG.warn("pending pair observation {} does not fit the catalog's model; not replayed", kv.key);
                    continue;
                }
                Model m = modelOf(shape.get());
                apply(m, kv.value);
                m.nextSeq = Long.parseLong(kv.key.substring(kv.key.lastIndexOf('/') + 1)) + 1;
                m.pending++;
                replayed++;
            }
        }
        if (!models.isEmpty()) {
            LOG.info(String.format(Locale.ROOT, "pair counts restored for %s (%d pending observations replayed)",
                    models.keySet(), replayed));
        }
    }

    private Model modelOf(ModelShape shape) {
        return models.computeIfAbsent(shape.id(), id -> new Model(shape, decay));
    }

    static String pendingKey(String model, long seq) {
        return String.format(Locale.ROOT, "%s/%012d", model, seq);
    }
}
