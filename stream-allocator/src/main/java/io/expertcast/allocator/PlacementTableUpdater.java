package io.expertcast.allocator;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.PlacementEntry;
import java.util.Optional;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds the global store {@link AllocatorTopology#PLACEMENT_TABLE_STORE} from moe.placement (also
 * on restore, so a restarted allocator has the whole table before it plans). A row that does not fit
 * the catalog or the mesh is logged and left out: a global store's processor cannot forward to the
 * dead letters, and only the allocator writes this topic, after validating every command.
 */
final class PlacementTableUpdater implements Processor<String, PlacementEntry, Void, Void> {
    private static final Logger LOG = LoggerFactory.getLogger(PlacementTableUpdater.class);

    private final ModelCatalog catalog;
    private final int dies;
    private final PlacementTableVersion version;
    private KeyValueStore<String, PlacementEntry> store;

    PlacementTableUpdater(ModelCatalog catalog, int dies, PlacementTableVersion version) {
        this.catalog = catalog;
        this.dies = dies;
        this.version = version;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        store = context.getStateStore(AllocatorTopology.PLACEMENT_TABLE_STORE);
    }

    @Override
    public void process(Record<String, PlacementEntry> record) {
        if (record.key() == null) {
            LOG.warn("moe.placement row without a key left out of the table");
            return;
        }
        if (record.value() == null) { // a tombstone: back to the even home
            store.delete(record.key());
            version.changed(record.key());
            return;
        }
        Optional<ModelShape> model = StoredPlacement.model(record.value(), catalog);
        Optional<String> reason = model.isEmpty() ? Optional.of("unknown model '" + record.value().getModel() + "'")
                : StoredPlacement.check(record.value(), model.get(), dies);
        if (reason.isPresent()) {
            LOG.warn("moe.placement row {} left out of the table: {}", record.key(), reason.get());
            return;
        }
        store.put(record.key(), record.value());
        version.changed(record.key());
    }
}
