package io.expertcast.allocator;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.DecayedPairCounts;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.core.placement.HbmCapacity;
import io.expertcast.core.placement.PairSeparationPolicy;
import io.expertcast.core.placement.PlacementMove;
import io.expertcast.core.placement.PlacementPolicies;
import io.expertcast.core.placement.PlacementPolicy;
import io.expertcast.core.placement.Rebalance;
import io.expertcast.core.placement.WorkloadProfiles;
import io.expertcast.core.state.BoundedLru;
import io.expertcast.schemas.PairCounts;
import io.expertcast.schemas.PairObservation;
import io.expertcast.schemas.PlacementAction;
import io.expertcast.schemas.PlacementCommand;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.WorkloadObservation;
import io.expertcast.schemas.WorkloadProfile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Insight 6, workload-aware serving, live: keeps per model a {@link WorkloadProfiles} (per workload
 * tag and MoE layer, decayed) from the per-pass observations, and re-places the model's experts for
 * the current traffic mix (the sum of the profiles of the tags seen within one period) when a tag's
 * traffic starts (first seen, or back after a period of silence: its learned profile places experts
 * before its load builds up) and on a wall-clock schedule (the paper suggests every 10 minutes). Each
 * rebalance runs the configured policy through {@link Rebalance} with at most the move budget per
 * MoE layer and forwards the moves as PlacementCommands for moe.placement-commands, where the
 * command applier validates them and writes moe.placement like any operator's command.
 *
 * <p>Exactly once: every profile lives in the changelogged store
 * {@link AllocatorTopology#WORKLOAD_PROFILES_STORE} (key model/tag) and the in-memory profiles are
 * rebuilt from it in {@link #init}. The table to move from is read from the placement global store.
 * Moves already sent but not yet seen there are in flight: until the store shows the table they
 * lead to (or one period has passed, e.g. because a command was rejected), the next trigger waits,
 * so the same move is never sent twice. A model whose HBM share cannot hold one spare copy per die
 * and layer (needed for swaps, see {@link Rebalance}) is not rebalanced (logged once).
 *
 * <p>Per-tag state is bounded by {@link TagStateLimits}: per model at most so many tags (the least
 * recently seen is evicted, its profile deleted from the store too) and none unseen for longer than
 * the TTL; a tag's start triggers at most one re-placement per model per gap. Evictions are counted
 * and logged once per period.
 *
 * <p>Insight 5: with the policy pair-separate the input also carries {@link PairObservation}s (the
 * expert ids of each pass's tokens, at most 64, same key); {@link PairCountKeeper} counts their
 * co-activations into the model's decayed pair counts, kept in changelogged stores, and every
 * re-placement hands them to the policy through
 * {@link io.expertcast.core.placement.PlacementRequest#pairCounts}. Live load windows (engine
 * attach) carry per-expert counts only and add no pairs.
 */
final class ProfileRebalancer implements Processor<String, SpecificRecord, String, PlacementCommand> {
    private static final Logger LOG = LoggerFactory.getLogger(ProfileRebalancer.class);

    private final ModelCatalog catalog;
    private final HardwareConfig hardware;
    private final ProfileRebalancing settings;
    private final PlacementPolicy policy;
    private final Mesh mesh;
    /** model -> its tags' profiles, a cache of the store. */
    private final Map<String, WorkloadProfiles> profiles = new TreeMap<>();
    private final TagStateLimits limits;
    /** model -> its tags, touched at the wall-clock time of their last observation; bounded. */
    private final Map<String, BoundedLru<String, Boolean>> lastSeen = new HashMap<>();
    /** model -> wall-clock time of the last re-placement a tag's start triggered. */
    private final Map<String, Long> lastTagStart = new HashMap<>();
    private long evictionsLogged;
    /** model -> the table its last moves lead to, while the placement store has not shown it. */
    private final Map<String, ExpertDistributionTable> inFlight = new HashMap<>();
    private final Map<String, Long> inFlightSince = new HashMap<>();
    private final Set<String> tooLarge = new HashSet<>();
    private ProcessorContext<String, PlacementCommand> context;
    private KeyValueStore<String, WorkloadProfile> store;
    private ReadOnlyKeyValueStore<String, PlacementEntry> placementStore;
    /** The models' decayed co-activation counts; null unless the policy places with them. */
    private PairCountKeeper pairs;

    ProfileRebalancer(ModelCatalog catalog, HardwareConfig hardware, ProfileRebalancing settings) {
        this(catalog, hardware, settings, TagStateLimits.DEFAULT);
    }

    ProfileRebalancer(ModelCatalog catalog, HardwareConfig hardware, ProfileRebalancing settings,
                      TagStateLimits limits) {
        this.limits = limits;
        this.catalog = catalog;
        this.hardware = hardware;
        this.settings = settings;
        this.policy = PlacementPolicies.byName(settings.policy());
        this.mesh = Mesh.of(hardware);
    }

    @Override
    public void init(ProcessorContext<String, PlacementCommand> context) {
        this.context = context;
        this.store = context.getStateStore(AllocatorTopology.WORKLOAD_PROFILES_STORE);
        this.placementStore = context.getStateStore(AllocatorTopology.PLACEMENT_TABLE_STORE);
        if (keepsPairCounts(settings)) {
            KeyValueStore<String, PairCounts> snapshots = context.getStateStore(AllocatorTopology.PAIR_COUNTS_STORE);
            KeyValueStore<String, PairObservation> log = context.getStateStore(AllocatorTopology.PAIR_PENDING_STORE);
            pairs = new PairCountKeeper(catalog, settings.decay(), snapshots, log);
        }
        profiles.clear();
        lastSeen.clear();
        lastTagStart.clear();
        inFlight.clear();
        inFlightSince.clear();
        List<WorkloadProfile> stored = new ArrayList<>();
        try (KeyValueIterator<String, WorkloadProfile> all = store.all()) {
            all.forEachRemaining(kv -> stored.add(kv.value));
        }
        // Oldest first, so that the bound (if it was lowered) keeps the most recently seen tags.
        stored.sort(java.util.Comparator.comparingLong(WorkloadProfile::getLastSeenMs));
        stored.forEach(this::restore);
        context.schedule(Duration.ofMillis(settings.periodMs()), PunctuationType.WALL_CLOCK_TIME, this::onSchedule);
    }

    /** Whether re-placements use pair counts (only pair-separate reads them), so the allocator keeps them. */
    static boolean keepsPairCounts(ProfileRebalancing settings) {
        return PlacementPolicies.byName(settings.policy()) instanceof PairSeparationPolicy;
    }

    @Override
    public void process(Record<String, SpecificRecord> record) {
        if (record.value() instanceof PairObservation p) {
            if (pairs == null) {
                throw new IllegalStateException("pair observation for " + p.getModel() + " but policy " + policy.name()
                        + " keeps no pair counts");
            }
            pairs.observe(p);
            return;
        }
        WorkloadObservation o = (WorkloadObservation) record.value();
        // Observations come from passes validated before assembly, built with the catalog's shapes.
        ModelShape model = catalog.byId(o.getModel()).orElseThrow();
        if (o.getNumMoeLayers() != model.numMoeLayers() || o.getNumExperts() != model.numExperts()) {
            throw new IllegalStateException("observation of " + o.getModel() + " has " + o.getNumMoeLayers() + " x "
                    + o.getNumExperts() + ", the catalog " + model.numMoeLayers() + " x " + model.numExperts());
        }
        long now = context.currentSystemTimeMs();
        String tag = o.getTag();
        boolean starts = !active(model.id(), tag, now);
        tagsOf(model.id()).put(tag, Boolean.TRUE, now); // may evict the least recently seen tag
        WorkloadProfiles modelProfiles = profilesOf(model);
        int[][] counts = WorkloadObservations.counts(o);
        for (int layer = 0; layer < counts.length; layer++) {
            modelProfiles.observe(tag, layer, counts[layer]);
        }
        String key = model.id() + "/" + tag;
        WorkloadProfile previous = store.get(key);
        store.put(key, new WorkloadProfile(model.id(), tag, model.numMoeLayers(), model.numExperts(),
                pack(modelProfiles.profile(tag).orElseThrow()), previous == null ? 1L : previous.getObservations() + 1,
                now, o.getEventTimeMs()));
        Long lastStart = lastTagStart.get(model.id());
        if (starts && (lastStart == null || now - lastStart >= limits.minTagStartGap().toMillis())) {
            lastTagStart.put(model.id(), now);
            rebalance(model, now, "traffic of " + tag + " starts");
        }
    }

    private void onSchedule(long now) {
        for (BoundedLru<String, Boolean> tags : lastSeen.values()) {
            tags.expire(now);
        }
        logEvictions();
        for (String id : List.copyOf(profiles.keySet())) {
            catalog.byId(id).ifPresent(model -> rebalance(model, now, "schedule"));
        }
    }

    /** Tags evicted (all models) since this task started. */
    long tagEvictions() {
        long n = 0;
        for (BoundedLru<String, Boolean> tags : lastSeen.values()) {
            n += tags.evictions();
        }
        return n;
    }

    private void logEvictions() {
        long evictions = tagEvictions();
        if (evictions > evictionsLogged) {
            StringBuilder kept = new StringBuilder();
            lastSeen.forEach((model, tags) -> kept.append(kept.length() == 0 ? "" : ", ").append(model).append(' ')
                    .append(tags.size()).append('/').append(tags.maxEntries()).append(" (")
                    .append(tags.evictedBySize()).append(" beyond the bound, ").append(tags.evictedByAge())
                    .append(" unseen for ").append(limits.tagTtl().toMinutes()).append(" min)"));
            LOG.info("workload profiles: {} tag(s) evicted since the last report; tags kept per model: {}",
                    evictions - evictionsLogged, kept);
            evictionsLogged = evictions;
        }
    }

    private BoundedLru<String, Boolean> tagsOf(String model) {
        return lastSeen.computeIfAbsent(model, m -> new BoundedLru<>(limits.maxTagsPerModel(),
                limits.tagTtl().toMillis(), (tag, unused) -> evict(m, tag)));
    }

    /** Forgets an evicted tag: its profile in memory and in the store (a tombstone on the changelog). */
    private void evict(String model, String tag) {
        WorkloadProfiles modelProfiles = profiles.get(model);
        if (modelProfiles != null) {
            modelProfiles.remove(tag);
        }
        store.delete(model + "/" + tag);
    }

    /** Moves the model's table toward the policy's placement of the active tags' mix, within the budget. */
    private void rebalance(ModelShape model, long now, String trigger) {
        List<String> active = new ArrayList<>();
        BoundedLru<String, Boolean> tags = lastSeen.get(model.id());
        if (tags != null) {
            for (String tag : tags.keys()) {
                if (now - tags.touchedMs(tag) <= settings.periodMs()) {
                    active.add(tag);
                }
            }
        }
        if (active.isEmpty()) {
            return;
        }
        int slots = HbmCapacity.slotsPerDiePerLayer(hardware, model);
        // The target fills one slot less than the HBM share so that swaps between dies have room.
        int redundant = (slots - 1) * hardware.dies() - model.numExperts();
        if (redundant < 0) {
            if (tooLarge.add(model.id())) {
                LOG.warn("{} on {}: {} copies per layer per die fit HBM, too few for a placement with a spare; "
                        + "its workload profiles are kept but not applied", model.id(), hardware.name(), slots);
            }
            return;
        }
        ExpertDistributionTable table = StoredPlacement.table(model, hardware.dies(), placementStore);
        ExpertDistributionTable expected = inFlight.get(model.id());
        if (expected != null) {
            if (!table.equals(expected) && now - inFlightSince.get(model.id()) < settings.periodMs()) {
                LOG.debug("{}: earlier moves still in flight, {} waits", model.id(), trigger);
                return;
            }
            inFlight.remove(model.id());
            inFlightSince.remove(model.id());
        }
        active.sort(null);
        DecayedPairCounts pairCounts = pairs == null ? null : pairs.counts(model.id()).orElse(null);
        List<PlacementMove> moves = WorkloadProfiles.rebalance(profilesOf(model).mix(active),
                pairCounts == null ? null : pairCounts::matrix, table, policy, redundant,
                settings.maxMovesPerLayer(), slots, model.expertBytes(), mesh);
        if (moves.isEmpty()) {
            return;
        }
        String reason = "workload profile of " + String.join(", ", active) + (pairCounts == null ? "" : " and pair counts")
                + " (" + policy.name() + ", " + trigger + ")";
        long bytes = 0;
        for (PlacementMove m : moves) {
            int from = m.action() == PlacementMove.Action.EVICT ? m.evictDie() : m.fromDie();
            context.forward(new Record<>(AllocatorTopology.placementKey(model.id(), m.layer(), m.expert()),
                    new PlacementCommand(model.id(), m.layer(), m.expert(), PlacementAction.valueOf(m.action().name()),
                            from, m.toDie(), m.bytes(), reason, now), now));
            bytes += m.bytes();
        }
        inFlight.put(model.id(), table);
        inFlightSince.put(model.id(), now);
        LOG.info(String.format(Locale.ROOT, "%s rebalanced for %s: %d moved experts, %d commands, %.1f GB",
                model.id(), reason, Rebalance.movedExperts(moves), moves.size(), bytes / 1e9));
    }

    private boolean active(String model, String tag, long now) {
        BoundedLru<String, Boolean> tags = lastSeen.get(model);
        long seen = tags == null ? -1 : tags.touchedMs(tag);
        return seen >= 0 && now - seen <= settings.periodMs();
    }

    private WorkloadProfiles profilesOf(ModelShape model) {
        return profiles.computeIfAbsent(model.id(), m -> new WorkloadProfiles(model.numMoeLayers(), model.numExperts(),
                settings.decay(), settings.periodMs()));
    }

    private void restore(WorkloadProfile p) {
        Optional<ModelShape> model = catalog.byId(p.getModel());
        if (model.isEmpty() || model.get().numMoeLayers() != p.getNumMoeLayers()
                || model.get().numExperts() != p.getNumExperts()) {
            LOG.warn("workload profile {}/{} does not fit the catalog's model; not restored", p.getModel(), p.getTag());
            return;
        }
        profilesOf(model.get()).restore(p.getTag(), unpack(p.getLoad(), p.getNumMoeLayers(), p.getNumExperts()));
        tagsOf(p.getModel()).put(p.getTag(), Boolean.TRUE, p.getLastSeenMs());
    }

    /** A profile as little-endian float64 [layer][expert]. */
    static ByteBuffer pack(double[][] load) {
        ByteBuffer b = ByteBuffer.allocate(load.length * load[0].length * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (double[] row : load) {
            for (double x : row) {
                b.putDouble(x);
            }
        }
        return b.flip();
    }

    static double[][] unpack(ByteBuffer bytes, int layers, int experts) {
        ByteBuffer b = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        double[][] load = new double[layers][experts];
        for (double[] row : load) {
            for (int e = 0; e < experts; e++) {
                row[e] = b.getDouble();
            }
        }
        return load;
    }
}
