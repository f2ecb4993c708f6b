package io.expertcast.allocator;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.core.placement.HbmCapacity;
import io.expertcast.core.placement.PlacementMove;
import io.expertcast.schemas.PlacementCommand;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Applies PlacementCommands (moe.placement-commands; REPLICATE / MIGRATE / EVICT, from the allocator's
 * own rebalancing or from an operator) to the expert distribution table and publishes each changed
 * row on moe.placement, whose global store every planner reads. A command the table cannot take
 * goes to moe.dead-letter with the reason: unknown model, layer, expert or die, a copy beyond the
 * die's HBM capacity ({@link HbmCapacity}), a migration from a die without a copy, evicting the last
 * copy. EVICT names its die in {@code fromDie}.
 *
 * <p>Rows this task published but the global store has not taken yet are kept aside and laid over
 * the store's table, so consecutive commands for one expert see each other. Commands are keyed
 * model/layer/expert, so one expert's commands meet in one task; the HBM check of a die counts the
 * other partitions' changes once the store has them.
 */
final class PlacementCommandApplier implements Processor<String, PlacementCommand, String, SpecificRecord> {
    private final ModelCatalog catalog;
    private final HardwareConfig hardware;
    private final String application;
    private final PlacementTableVersion version;
    private final Map<String, ExpertDistributionTable> tables = new HashMap<>();
    private final Map<String, Long> builtAt = new HashMap<>();
    private final Map<String, PlacementEntry> pending = new HashMap<>();
    private ProcessorContext<String, SpecificRecord> context;
    private ReadOnlyKeyValueStore<String, PlacementEntry> store;

    PlacementCommandApplier(ModelCatalog catalog, HardwareConfig hardware, String application,
                            PlacementTableVersion version) {
        this.catalog = catalog;
        this.hardware = hardware;
        this.application = application;
        this.version = version;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        this.context = context;
        this.store = context.getStateStore(AllocatorTopology.PLACEMENT_TABLE_STORE);
    }

    @Override
    public void process(Record<String, PlacementCommand> record) {
        PlacementCommand command = record.value();
        Optional<ModelShape> model = command == null ? Optional.empty() : catalog.byId(command.getModel());
        if (model.isEmpty()) {
            deadLetter(record, command == null ? "null value" : "unknown model '" + command.getModel() + "'");
            return;
        }
        ExpertDistributionTable table = table(model.get());
        Optional<String> reason = apply(command, model.get(), table, hardware);
        if (reason.isPresent()) {
            deadLetter(record, reason.get());
            return;
        }
        String key = AllocatorTopology.placementKey(model.get().id(), command.getLayer(), command.getExpert());
        PlacementEntry previous = pending.containsKey(key) ? pending.get(key) : store.get(key);
        int layer = command.getLayer();
        int expert = command.getExpert();
        int home = table.homeDie(layer, expert);
        List<Integer> replicas = new ArrayList<>();
        for (int die : table.holders(layer, expert)) {
            if (die != home) {
                replicas.add(die);
            }
        }
        PlacementEntry row = new PlacementEntry(model.get().id(), layer, expert, home, replicas,
                previous == null ? 1L : previous.getVersion() + 1, command.getEventTimeMs());
        pending.put(key, row);
        context.forward(record.withKey(key).withValue(row));
    }

    /**
     * Checks the command against the table and the hardware and applies it to {@code table}; the
     * reason it cannot be applied otherwise (the table is then unchanged).
     */
    static Optional<String> apply(PlacementCommand c, ModelShape model, ExpertDistributionTable table,
                                  HardwareConfig hardware) {
        int layer = c.getLayer();
        int expert = c.getExpert();
        int dies = table.dies();
        if (layer < 0 || layer >= model.numMoeLayers()) {
            return Optional.of("MoE layer " + layer + " out of range 0.." + (model.numMoeLayers() - 1) + " of " + model.id());
        }
        if (expert < 0 || expert >= model.numExperts()) {
            return Optional.of("unknown expert " + expert + ": " + model.id() + " has experts 0.." + (model.numExperts() - 1));
        }
        boolean needsFrom = c.getAction() != io.expertcast.schemas.PlacementAction.REPLICATE;
        boolean needsTo = c.getAction() != io.expertcast.schemas.PlacementAction.EVICT;
        if (needsFrom && (c.getFromDie() < 0 || c.getFromDie() >= dies)) {
            return Optional.of(c.getAction() + " from die " + c.getFromDie() + ": out of range 0.." + (dies - 1));
        }
        if (needsTo && (c.getToDie() < 0 || c.getToDie() >= dies)) {
            return Optional.of(c.getAction() + " to die " + c.getToDie() + ": out of range 0.." + (dies - 1));
        }
        if (needsFrom && !table.holds(layer, expert, c.getFromDie())) {
            return Optional.of(c.getAction() + ": die " + c.getFromDie() + " holds no copy of expert " + expert
                    + " of MoE layer " + layer);
        }
        if (needsTo && table.holds(layer, expert, c.getToDie())) {
            return Optional.of(c.getAction() + ": die " + c.getToDie() + " already holds expert " + expert
                    + " of MoE layer " + layer);
        }
        if (needsTo) {
            long limit = HbmCapacity.copiesPerDie(hardware, model);
            int copies = table.copiesOnDie(c.getToDie());
            if (copies + 1 > limit) {
                return Optional.of(String.format(java.util.Locale.ROOT,
                        "placement beyond HBM capacity: die %d already holds %d copies of %s experts (%.1f GB of %.1f GB usable)",
                        c.getToDie(), copies, model.id(), copies * (double) model.expertBytes() / 1e9,
                        hardware.usableHbmBytes() / 1e9));
            }
        }
        if (c.getAction() == io.expertcast.schemas.PlacementAction.EVICT && table.copies(layer, expert) == 1) {
            return Optional.of("EVICT: die " + c.getFromDie() + " holds the last copy of expert " + expert
                    + " of MoE layer " + layer);
        }
        PlacementMove move = switch (c.getAction()) {
            case REPLICATE -> PlacementMove.replicate(layer, expert, c.getFromDie(), c.getToDie(), c.getBytes());
            case MIGRATE -> PlacementMove.migrate(layer, expert, c.getFromDie(), c.getToDie(), c.getBytes());
            case EVICT -> PlacementMove.evict(layer, expert, c.getFromDie());
        };
        move.applyTo(table);
        return Optional.empty();
    }

    /**
     * The model's table: the store's, with this task's unseen rows laid over; when the store changed,
     * only its changed rows are re-read (the whole table when the change journal no longer has them).
     */
    private ExpertDistributionTable table(ModelShape model) {
        long now = version.current();
        ExpertDistributionTable table = tables.get(model.id());
        if (table != null && builtAt.get(model.id()) == now) {
            return table;
        }
        List<String> changed = table == null ? null : version.changedSince(builtAt.get(model.id()), now);
        if (changed != null) {
            // Only the changed rows, except those this task wrote after the store's version of them.
            List<String> reread = new ArrayList<>(changed.size());
            for (String key : changed) {
                PlacementEntry ours = pending.get(key);
                PlacementEntry stored = ours == null ? null : store.get(key);
                if (ours == null || stored != null && stored.getVersion() >= ours.getVersion()) {
                    pending.remove(key);
                    reread.add(key);
                }
            }
            StoredPlacement.refresh(table, model, reread, store);
            builtAt.put(model.id(), now);
            return table;
        }
        table = StoredPlacement.table(model, hardware.dies(), store);
        for (Iterator<Map.Entry<String, PlacementEntry>> it = pending.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, PlacementEntry> e = it.next();
            PlacementEntry row = e.getValue();
            if (!row.getModel().equals(model.id())) {
                continue;
            }
            PlacementEntry stored = store.get(e.getKey());
            if (stored != null && stored.getVersion() >= row.getVersion()) {
                it.remove();
            } else {
                table.set(row.getLayer(), row.getExpert(), row.getHomeDie(),
                        row.getReplicaDies().stream().mapToInt(Integer::intValue).toArray());
            }
        }
        tables.put(model.id(), table);
        builtAt.put(model.id(), now);
        return table;
    }

    private void deadLetter(Record<String, PlacementCommand> record, String reason) {
        Optional<RecordMetadata> meta = context.recordMetadata();
        byte[] raw = record.value() == null ? null : Topics.PLACEMENT_COMMANDS.valueSerde().serializer()
                .serialize(Topics.PLACEMENT_COMMANDS.name(), record.value());
        context.forward(record.withValue(DeadLetters.of(application,
                meta.map(RecordMetadata::topic).orElse(Topics.PLACEMENT_COMMANDS.name()),
                meta.map(RecordMetadata::partition).orElse(-1),
                meta.map(RecordMetadata::offset).orElse(-1L),
                reason,
                record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8),
                raw)));
    }
}
