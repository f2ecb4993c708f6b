package io.expertcast.allocator;

import io.expertcast.core.allocation.AllocationResult;
import io.expertcast.core.allocation.TaskAllocator;
import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.AllocatorMetrics;
import io.expertcast.schemas.Assignment;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.pass.CompletedPass;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Per completed forward pass: counts tokens per expert per MoE layer from all its selections (a
 * token choosing k experts counts once per expert), runs Algorithm 1 ({@link TaskAllocator},
 * Insight 3) for every MoE layer against the model's expert distribution table and forwards one
 * {@link AllocationPlan} and one {@link AllocatorMetrics} per layer. The table is the one on
 * moe.placement, read from the global store {@link AllocatorTopology#PLACEMENT_TABLE_STORE} (re-read
 * when the store changes), so placement commands take effect on the next pass and a restarted
 * allocator plans with the table the topic holds. A model with no rows there starts on the even,
 * EP-like table, which the first pass of the model seen by this task publishes, once: a flag in
 * {@link AllocatorTopology#PLACEMENT_PUBLISHED_STORE} survives restarts through its changelog.
 *
 * <p>A pass is planned from its own tokens and the model's table only, so passes of several sources
 * (engine instances or replays of one model, SelectionEvent v2) are planned exactly as each source's
 * alone; plans are keyed {@code model/source/pass}. The table itself is the model's, shared by its
 * sources (with profile rebalancing on, every source's workload moves it).
 *
 * <p>Each layer's metrics carry the placement moves that took effect since the model's previous
 * pass on this task ({@link ExpertDistributionTable#changeFrom}: the fewest REPLICATE / MIGRATE /
 * EVICT commands between the two tables, and one expert's weight bytes per copy gained). The first
 * pass after a start reports none (there is no earlier table in memory to compare with).
 */
final class PassPlanner implements Processor<String, CompletedPass, String, SpecificRecord> {
    private static final ExpertDistributionTable.LayerChange NO_CHANGE = new ExpertDistributionTable.LayerChange(0, 0);
    private final ModelCatalog catalog;
    private final HardwareConfig hardware;
    private final TaskAllocator allocator;
    private final PlacementTableVersion version;
    private final Map<String, ExpertDistributionTable> tables = new HashMap<>();
    private final Map<String, Long> builtAt = new HashMap<>();
    /** Per model the table its previous pass was planned with, to report the moves since. */
    private final Map<String, ExpertDistributionTable> lastPlanned = new HashMap<>();
    private ReadOnlyKeyValueStore<String, PlacementEntry> placementStore;
    private ProcessorContext<String, SpecificRecord> context;
    private KeyValueStore<String, Long> published;

    PassPlanner(ModelCatalog catalog, HardwareConfig hardware, PlacementTableVersion version) {
        this.catalog = catalog;
        this.version = version;
        this.hardware = hardware;
        this.allocator = new TaskAllocator(Mesh.of(hardware), new DieCostModel(hardware));
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        this.context = context;
        this.published = context.getStateStore(AllocatorTopology.PLACEMENT_PUBLISHED_STORE);
        this.placementStore = context.getStateStore(AllocatorTopology.PLACEMENT_TABLE_STORE);
    }

    @Override
    public void process(Record<String, CompletedPass> record) {
        ForwardPass pass = record.value().pass();
        // Passes were validated before assembly; the catalog cannot lose a model at run time.
        ModelShape model = catalog.byId(pass.getModel()).orElseThrow();
        long time = pass.getEventTimeMs();
        ExpertDistributionTable table = table(model);
        if (published.get(model.id()) == null) {
            if (StoredPlacement.hasRows(model, placementStore)) {
                published.put(model.id(), 0L); // the topic has the table already (e.g. after a restart)
            } else {
                publishTable(model, table, record, time);
            }
        }
        // Moves are reported per source: each source's passes see the table's changes since its own previous pass.
        ExpertDistributionTable previous = lastPlanned.put(model.id() + "/" + pass.getSource(), table);
        int[] counts = tokensPerExpert(model, record.value().selections());
        String planKey = Topics.passKey(model.id(), pass.getSource(), pass.getPassId());
        int experts = model.numExperts();
        int[] layerCounts = new int[experts];
        for (int layer = 0; layer < model.numMoeLayers(); layer++) {
            System.arraycopy(counts, layer * experts, layerCounts, 0, experts);
            AllocationResult result = allocator.allocate(model, table, layer, layerCounts);
            ExpertDistributionTable.LayerChange change = previous == null || previous == table
                    ? NO_CHANGE : table.changeFrom(previous, layer);
            List<Assignment> assignments = new ArrayList<>(result.size());
            for (int i = 0; i < result.size(); i++) {
                assignments.add(new Assignment(result.expert(i), result.die(i), result.tokens(i)));
            }
            context.forward(record.withKey(planKey).withValue(new AllocationPlan(model.id(), pass.getPassId(), layer,
                    model.numMoeLayers(), hardware.name(), assignments, result.totalTokens(), time, pass.getSource())));
            context.forward(record.withKey(model.id()).withValue(AllocatorMetrics.newBuilder()
                    .setModel(model.id()).setPassId(pass.getPassId()).setLayer(layer)
                    .setMaxDieTokens(result.maxDieTokens()).setMeanDieTokens(result.meanDieTokens())
                    .setRemoteTokens(result.remoteTokens()).setRemoteHops(result.remoteHops())
                    .setPlannedLayerNs(result.maxDieNs()).setMoves(change.moves())
                    .setMovedBytes(change.addedCopies() * model.expertBytes()).setEventTimeMs(time)
                    .setSource(pass.getSource()).build()));
        }
    }

    /** The model's table from the global store; when the store has changed, its changed rows are re-read. */
    private ExpertDistributionTable table(ModelShape model) {
        long now = version.current();
        ExpertDistributionTable table = tables.get(model.id());
        if (table == null || builtAt.get(model.id()) != now) {
            List<String> changed = table == null ? null : version.changedSince(builtAt.get(model.id()), now);
            if (changed == null) {
                table = StoredPlacement.table(model, hardware.dies(), placementStore);
            } else {
                table = table.copy(); // the previous pass's table stays as it was, to report the moves since
                StoredPlacement.refresh(table, model, changed, placementStore);
            }
            tables.put(model.id(), table);
            builtAt.put(model.id(), now);
        }
        return table;
    }

    /** Tokens per expert per MoE layer, flat [layer][expert], read straight from the packed uint16 ids. */
    static int[] tokensPerExpert(ModelShape model, List<SelectionEvent> selections) {
        int experts = model.numExperts();
        int layers = model.numMoeLayers();
        int k = model.topK();
        int[] counts = new int[layers * experts];
        for (SelectionEvent e : selections) {
            ByteBuffer ids = e.getExpertIds();
            int pos = ids.position();
            for (int token = 0; token < e.getTokenCount(); token++) {
                for (int layer = 0; layer < layers; layer++) {
                    int base = layer * experts;
                    for (int slot = 0; slot < k; slot++, pos += 2) {
                        counts[base + ((ids.get(pos) & 0xFF) | ((ids.get(pos + 1) & 0xFF) << 8))]++;
                    }
                }
            }
        }
        return counts;
    }

    private void publishTable(ModelShape model, ExpertDistributionTable table, Record<String, CompletedPass> record,
                              long time) {
        for (int layer = 0; layer < model.numMoeLayers(); layer++) {
            for (int expert = 0; expert < model.numExperts(); expert++) {
                int home = table.homeDie(layer, expert);
                List<Integer> replicas = new ArrayList<>();
                for (int die : table.holders(layer, expert)) {
                    if (die != home) {
                        replicas.add(die);
                    }
                }
                context.forward(record.withKey(AllocatorTopology.placementKey(model.id(), layer, expert))
                        .withValue(new PlacementEntry(model.id(), layer, expert, home, replicas, 0L, time)));
            }
        }
        published.put(model.id(), 0L);
    }
}
