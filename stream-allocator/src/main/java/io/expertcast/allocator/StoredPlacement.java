package io.expertcast.allocator;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.EvenPlacement;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.schemas.PlacementEntry;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The expert distribution table as the moe.placement topic holds it (compacted, one row per
 * model/layer/expert), read back from the allocator's global store: a restarted allocator rebuilds
 * its table from the topic. Experts without a row sit on their even, EP-like home.
 */
public final class StoredPlacement {
    private StoredPlacement() {
    }

    /** The model's table from the store's rows over the even table. */
    static ExpertDistributionTable table(ModelShape model, int dies, ReadOnlyKeyValueStore<String, PlacementEntry> store) {
        ExpertDistributionTable table = ExpertDistributionTable.even(model, dies);
        try (var rows = store.prefixScan(model.id() + "/", new StringSerializer())) {
            rows.forEachRemaining(kv -> {
                PlacementEntry row = kv.value;
                if (row != null && check(row, model, dies).isEmpty()) {
                    table.set(row.getLayer(), row.getExpert(), row.getHomeDie(),
                            row.getReplicaDies().stream().mapToInt(Integer::intValue).toArray());
                }
            });
        }
        return table;
    }

    /**
     * Re-reads into {@code table} the model's rows among {@code keys} (keys of changed rows, any
     * model); a row the store no longer has goes back to the expert's even home.
     */
    static void refresh(ExpertDistributionTable table, ModelShape model, List<String> keys,
                        ReadOnlyKeyValueStore<String, PlacementEntry> store) {
        String prefix = model.id() + "/";
        for (String key : keys) {
            if (key == null || !key.startsWith(prefix)) {
                continue;
            }
            PlacementEntry row = store.get(key);
            if (row != null) {
                if (row.getModel().equals(model.id()) && check(row, model, table.dies()).isEmpty()) {
                    table.set(row.getLayer(), row.getExpert(), row.getHomeDie(),
                            row.getReplicaDies().stream().mapToInt(Integer::intValue).toArray());
                }
                continue;
            }
            String[] parts = key.substring(prefix.length()).split("/");
            try {
                int layer = parts.length == 2 ? Integer.parseInt(parts[0]) : -1;
                int expert = parts.length == 2 ? Integer.parseInt(parts[1]) : -1;
                if (layer >= 0 && layer < model.numMoeLayers() && expert >= 0 && expert < model.numExperts()) {
                    table.set(layer, expert, EvenPlacement.homeDie(expert, model.numExperts(), table.dies()), new int[0]);
                }
            } catch (NumberFormatException e) {
                // not a row key of this model (the updater keeps such rows out of the store)
            }
        }
    }

    /** Whether the store holds any row of the model. */
    static boolean hasRows(ModelShape model, ReadOnlyKeyValueStore<String, PlacementEntry> store) {
        try (var rows = store.prefixScan(model.id() + "/", new StringSerializer())) {
            return rows.hasNext();
        }
    }

    /** The reason a row cannot be part of the model's table, or empty. */
    public static Optional<String> check(PlacementEntry row, ModelShape model, int dies) {
        if (row.getLayer() < 0 || row.getLayer() >= model.numMoeLayers()) {
            return Optional.of("MoE layer " + row.getLayer() + " out of range 0.." + (model.numMoeLayers() - 1));
        }
        if (row.getExpert() < 0 || row.getExpert() >= model.numExperts()) {
            return Optional.of("expert " + row.getExpert() + " out of range 0.." + (model.numExperts() - 1));
        }
        if (row.getHomeDie() < 0 || row.getHomeDie() >= dies) {
            return Optional.of("home die " + row.getHomeDie() + " out of range 0.." + (dies - 1));
        }
        for (int die : row.getReplicaDies()) {
            if (die < 0 || die >= dies) {
                return Optional.of("replica die " + die + " out of range 0.." + (dies - 1));
            }
        }
        return Optional.empty();
    }

    /** The model of a row, if the catalog knows it. */
    static Optional<ModelShape> model(PlacementEntry row, ModelCatalog catalog) {
        return row == null ? Optional.empty() : catalog.byId(row.getModel());
    }
}
