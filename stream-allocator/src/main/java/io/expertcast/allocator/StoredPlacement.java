package io.expertcast.allocator;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.schemas.PlacementEntry;
import java.util.Optional;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The expert distribution table as the moe.placement topic holds it (compacted, one row per
 * model/layer/expert), read back from the allocator's global store: a restarted allocator rebuilds
 * its table from the topic. Experts without a row sit on their even, EP-like home.
 */
final class StoredPlacement {
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

    /** Whether the store holds any row of the model. */
    static boolean hasRows(ModelShape model, ReadOnlyKeyValueStore<String, PlacementEntry> store) {
        try (var rows = store.prefixScan(model.id() + "/", new StringSerializer())) {
            return rows.hasNext();
        }
    }

    /** The reason a row cannot be part of the model's table, or empty. */
    static Optional<String> check(PlacementEntry row, ModelShape model, int dies) {
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
