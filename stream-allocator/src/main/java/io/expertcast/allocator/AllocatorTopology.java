package io.expertcast.allocator;

import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.AllocatorMetrics;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PairCounts;
import io.expertcast.schemas.PairObservation;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WorkloadObservation;
import io.expertcast.schemas.WorkloadProfile;
import io.expertcast.streams.ValidatedPasses;
import io.expertcast.streams.ValidatedSelections;
import io.expertcast.streams.pass.CompletedPass;
import io.expertcast.streams.pass.PassAssembly;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The allocator stage (Insight 3, Algorithm 1): moe.selections + moe.passes -> per forward pass and
 * MoE layer one AllocationPlan on moe.allocations (key model/pass) and one AllocatorMetrics on
 * moe.allocator-metrics (key model); the initial even table once per model on moe.placement.
 * With {@link AllocatorSettings#rebalancing()} set, workload profiles per tag (Insight 6) re-place
 * experts through PlacementCommands on moe.placement-commands ({@link ProfileRebalancer}); with the
 * policy pair-separate the co-activations of every pass are counted too and kept decayed per model
 * and MoE layer (Insight 5, {@link PairObservations}, {@link PairCountKeeper}) for its re-placements.
 *
 * <p>Bad input: invalid selections and invalid passes (unknown model, no tokens) go to
 * moe.dead-letter. A pass one of whose selections was dead-lettered never has all its tokens, so
 * it is never planned: nothing is emitted for it and its parts stay in the pass-assembly stores
 * (PassAssembly has no expiry yet). Later passes are unaffected.
 *
 * <p>The table is published by each task (partition of the repartitioned pass stream) on its first
 * pass of a model: several partitions write identical rows, which the compacted topic collapses.
 *
 * <p>Plan layers are MoE layer indexes (0..numMoeLayers-1), not transformer layer numbers.
 */
public final class AllocatorTopology {
    private static final Logger LOG = LoggerFactory.getLogger(AllocatorTopology.class);
    /** Prefix of the pass-assembly stores and repartition topic. */
    public static final String ASSEMBLY_NAME = "allocator";
    /** model -> version of the table published on moe.placement by this task. */
    public static final String PLACEMENT_PUBLISHED_STORE = "allocator-placement-published";
    /** Global store of moe.placement: the expert distribution table every task plans with. */
    public static final String PLACEMENT_TABLE_STORE = "allocator-placement-table";
    /** model/tag -> the tag's decayed load profile (Insight 6), changelogged. */
    public static final String WORKLOAD_PROFILES_STORE = "allocator-workload-profiles";
    /** Name of the repartition (to key = model) of the per-pass workload observations. */
    public static final String WORKLOAD_OBSERVATIONS = "allocator-workload-observations";
    /** Name of the repartition (to key = model) of the per-pass token selections pairs are counted from (Insight 5, pair-separate only). */
    public static final String PAIR_OBSERVATIONS = "allocator-pair-observations";
    /** model/layer -> the layer's decayed co-activation counts as of the last snapshot, changelogged. */
    public static final String PAIR_COUNTS_STORE = "allocator-pair-counts";
    /** model/sequence -> a pair observation since the last snapshot, changelogged; replayed at a restart. */
    public static final String PAIR_PENDING_STORE = "allocator-pair-pending";

    private AllocatorTopology() {
    }

    public static void build(StreamsBuilder builder, AllocatorSettings settings) {
        build(builder, settings, AllocatorMeters.none());
    }

    /** As above, each published AllocatorMetrics also counted on {@code meters}. */
    public static void build(StreamsBuilder builder, AllocatorSettings settings, AllocatorMeters meters) {
        KStream<String, SelectionEvent> selections =
                ValidatedSelections.stream(builder, settings.catalog(), settings.applicationName(),
                        settings.eventTimeBound());
        KStream<String, ForwardPass> passes =
                ValidatedPasses.stream(builder, settings.catalog(), settings.applicationName(),
                        settings.eventTimeBound());
        KStream<String, CompletedPass> completed =
                PassAssembly.assemble(builder, ASSEMBLY_NAME, settings.catalog(), selections, passes, null);

        PlacementTableVersion version = new PlacementTableVersion();
        builder.addGlobalStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(PLACEMENT_TABLE_STORE),
                        Serdes.String(), Topics.PLACEMENT.valueSerde()).withLoggingDisabled(),
                Topics.PLACEMENT.name(), Consumed.with(Topics.PLACEMENT.keySerde(), Topics.PLACEMENT.valueSerde())
                        .withName("placement-table-source"),
                () -> new PlacementTableUpdater(settings.catalog(), settings.hardware().dies(), version));

        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(PLACEMENT_PUBLISHED_STORE),
                Serdes.String(), Serdes.Long()));
        KStream<String, SpecificRecord> out = completed.process(
                () -> new PassPlanner(settings.catalog(), settings.hardware(), version), Named.as("plan-pass"),
                PLACEMENT_PUBLISHED_STORE);
        if (settings.rebalancing() != null) {
            profileRebalancing(builder, settings, completed);
        }
        KStream<String, SpecificRecord> applied = builder
                .stream(Topics.PLACEMENT_COMMANDS.name(), Consumed.with(Topics.PLACEMENT_COMMANDS.keySerde(),
                        Topics.PLACEMENT_COMMANDS.valueSerde()).withName("placement-commands-source"))
                .process(() -> new PlacementCommandApplier(settings.catalog(), settings.hardware(),
                        settings.applicationName(), version), Named.as("apply-placement-command"));
        applied.split(Named.as("placement-commands-out-"))
                .branch((k, v) -> v instanceof PlacementEntry, Branched.withConsumer(s -> s
                        .mapValues(v -> (PlacementEntry) v, Named.as("command-as-placement"))
                        .to(Topics.PLACEMENT.name(), Produced.with(Topics.PLACEMENT.keySerde(),
                                Topics.PLACEMENT.valueSerde()).withName("command-placement-sink")), "rows"))
                .branch((k, v) -> v instanceof DeadLetter, Branched.withConsumer(s -> s
                        .map((k, v) -> KeyValue.pair(k == null ? null : k.getBytes(StandardCharsets.UTF_8),
                                (DeadLetter) v), Named.as("command-as-dead-letter"))
                        .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                                Topics.DEAD_LETTER.valueSerde()).withName("command-dead-letter-sink")), "rejected"));
        out.split(Named.as("allocator-out-"))
                .branch((k, v) -> v instanceof AllocationPlan, Branched.withConsumer(s -> s
                        .mapValues(v -> (AllocationPlan) v, Named.as("as-plan"))
                        .to(Topics.ALLOCATIONS.name(), Produced.with(Topics.ALLOCATIONS.keySerde(),
                                Topics.ALLOCATIONS.valueSerde()).withName("allocations-sink")), "plans"))
                .branch((k, v) -> v instanceof AllocatorMetrics, Branched.withConsumer(s -> s
                        .mapValues(v -> (AllocatorMetrics) v, Named.as("as-metrics"))
                        .peek((k, v) -> meters.observe(v), Named.as("count-allocator-metrics"))
                        .to(Topics.ALLOCATOR_METRICS.name(), Produced.with(Topics.ALLOCATOR_METRICS.keySerde(),
                                Topics.ALLOCATOR_METRICS.valueSerde()).withName("allocator-metrics-sink")), "metrics"))
                .branch((k, v) -> v instanceof PlacementEntry, Branched.withConsumer(s -> s
                        .mapValues(v -> (PlacementEntry) v, Named.as("as-placement"))
                        .to(Topics.PLACEMENT.name(), Produced.with(Topics.PLACEMENT.keySerde(),
                                Topics.PLACEMENT.valueSerde()).withName("placement-sink")), "placement"));
    }

    /**
     * Insight 6: per pass, each workload tag's tokens per expert, re-keyed by model so that one task
     * keeps all of a model's profiles; {@link ProfileRebalancer} turns them into PlacementCommands on
     * moe.placement-commands, which the command applier above validates and applies.
     */
    private static void profileRebalancing(StreamsBuilder builder, AllocatorSettings settings,
                                           KStream<String, CompletedPass> completed) {
        var observationSerde = SerdeFactory.defaultFactory().serde(WorkloadObservation.class);
        // Cached: a profile (MoE layers x experts counts, ~60 KB for DeepSeek-V3) is rewritten at every pass of its
        // tag; the cache sends the latest to the changelog once per commit instead of once per pass (a short
        // session wrote 262 MB of this changelog uncached).
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(WORKLOAD_PROFILES_STORE),
                Serdes.String(), SerdeFactory.defaultFactory().serde(WorkloadProfile.class)).withCachingEnabled());
        // Live load windows of serving engines (attach): each source a workload of its own.
        KStream<String, SpecificRecord> loads = builder
                .stream(Topics.EXPERT_LOAD.name(), Consumed.with(Topics.EXPERT_LOAD.keySerde(),
                        Topics.EXPERT_LOAD.valueSerde()).withName("expert-load-source"))
                .process(() -> new ExpertLoadIntake(settings.catalog(), settings.applicationName()),
                        Named.as("take-expert-load"));
        loads.filter((k, v) -> v instanceof DeadLetter, Named.as("expert-load-rejected"))
                .map((k, v) -> KeyValue.pair(k == null ? null : k.getBytes(StandardCharsets.UTF_8), (DeadLetter) v),
                        Named.as("expert-load-as-dead-letter"))
                .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                        Topics.DEAD_LETTER.valueSerde()).withName("expert-load-dead-letter-sink"));
        KStream<String, WorkloadObservation> live = loads
                .filter((k, v) -> v instanceof WorkloadObservation, Named.as("expert-load-taken"))
                .mapValues(v -> (WorkloadObservation) v, Named.as("expert-load-as-observation"));
        KStream<String, SpecificRecord> observations = completed.flatMap((k, v) -> {
                    ModelShape model = settings.catalog().byId(v.pass().getModel()).orElseThrow();
                    return WorkloadObservations.of(model, v).stream()
                            .map(o -> KeyValue.pair(model.id(), o)).toList();
                }, Named.as("observe-workload-tags"))
                .merge(live, Named.as("observations-and-live-load"))
                .repartition(Repartitioned.with(Serdes.String(), observationSerde).withName(WORKLOAD_OBSERVATIONS))
                .mapValues(v -> (SpecificRecord) v, Named.as("observation-as-record"));
        String[] stores = {WORKLOAD_PROFILES_STORE};
        if (ProfileRebalancer.keepsPairCounts(settings.rebalancing())) {
            observations = observations.merge(pairObservations(builder, settings, completed),
                    Named.as("observations-and-pairs"));
            stores = new String[] {WORKLOAD_PROFILES_STORE, PAIR_COUNTS_STORE, PAIR_PENDING_STORE};
        }
        observations
                .process(() -> new ProfileRebalancer(settings.catalog(), settings.hardware(), settings.rebalancing(),
                                settings.tagLimits()),
                        Named.as("rebalance-workload-profiles"), stores)
                .to(Topics.PLACEMENT_COMMANDS.name(), Produced.with(Topics.PLACEMENT_COMMANDS.keySerde(),
                        Topics.PLACEMENT_COMMANDS.valueSerde()).withName("profile-commands-sink"));
    }

    /**
     * Insight 5: per completed pass the expert ids of (a sample of) its tokens ({@link PairObservations}),
     * re-keyed by model to the task that counts their co-activations and keeps the model's decayed pair
     * counts ({@link PairCountKeeper}): this thread, which plans the passes, only copies ids. Only when
     * the policy reads pair counts.
     */
    private static KStream<String, SpecificRecord> pairObservations(StreamsBuilder builder, AllocatorSettings settings,
                                                                    KStream<String, CompletedPass> completed) {
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(PAIR_COUNTS_STORE),
                Serdes.String(), SerdeFactory.defaultFactory().serde(PairCounts.class)));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(PAIR_PENDING_STORE),
                Serdes.String(), SerdeFactory.defaultFactory().serde(PairObservation.class)));
        Set<String> unfit = ConcurrentHashMap.newKeySet();
        return completed.flatMap((k, v) -> {
                    ModelShape model = settings.catalog().byId(v.pass().getModel()).orElseThrow();
                    if (!PairObservations.fits(model)) {
                        if (model.topK() > 1 && unfit.add(model.id())) {
                            LOG.warn("{}: {} tokens of {} MoE layers x top-{} take more than {} bytes; its pair "
                                    + "counts are not kept (pair-separate places it without them)", model.id(),
                                    PairObservations.MAX_TOKENS_PER_PASS, model.numMoeLayers(), model.topK(),
                                    PairObservations.MAX_RECORD_BYTES);
                        }
                        return List.<KeyValue<String, PairObservation>>of();
                    }
                    return PairObservations.of(model, v).stream().map(o -> KeyValue.pair(model.id(), o)).toList();
                }, Named.as("observe-pairs"))
                .repartition(Repartitioned.with(Serdes.String(), SerdeFactory.defaultFactory().serde(PairObservation.class))
                        .withName(PAIR_OBSERVATIONS))
                .mapValues(v -> (SpecificRecord) v, Named.as("pairs-as-record"));
    }

    /** Key of a row of the expert distribution table on moe.placement. */
    public static String placementKey(String model, int moeLayer, int expert) {
        return model + "/" + moeLayer + "/" + expert;
    }
}
