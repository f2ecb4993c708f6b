package io.expertcast.streams.pass;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassInput;
import io.expertcast.schemas.PassProgress;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.schemas.Topics;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;

/**
 * Topology fragment: brings the selections, the ForwardPass record and (optionally) the plans of
 * each forward pass together on the key {@code model/pass} (a repartition), so that a pass's work
 * is spread over partitions by pass and no single key carries the whole stream. Emits one
 * {@link CompletedPass} when every token of the pass (and every layer's plan) has arrived.
 */
public final class PassAssembly {
    private PassAssembly() {
    }

    /**
     * @param name      prefix of the repartition topic and the stores (unique per application)
     * @param plans     the plans stream, or null when the pass is complete without plans
     */
    public static KStream<String, CompletedPass> assemble(StreamsBuilder builder, String name, ModelCatalog catalog,
                                                          KStream<String, SelectionEvent> selections,
                                                          KStream<String, ForwardPass> passes,
                                                          KStream<String, AllocationPlan> plans) {
        var inputSerde = SerdeFactory.defaultFactory().serde(PassInput.class);
        var progressSerde = SerdeFactory.defaultFactory().serde(PassProgress.class);
        String itemsStore = name + "-pass-items";
        String progressStore = name + "-pass-progress";
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(itemsStore),
                Serdes.String(), inputSerde));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(progressStore),
                Serdes.String(), progressSerde));

        KStream<String, PassInput> inputs = selections
                .map((k, v) -> org.apache.kafka.streams.KeyValue.pair(Topics.passKey(v.getModel(), v.getPassId()),
                        new PassInput(v)), Named.as(name + "-key-selections"))
                .merge(passes.map((k, v) -> org.apache.kafka.streams.KeyValue.pair(
                        Topics.passKey(v.getModel(), v.getPassId()), new PassInput(v)),
                        Named.as(name + "-key-passes")), Named.as(name + "-merge-passes"));
        if (plans != null) {
            inputs = inputs.merge(plans.map((k, v) -> org.apache.kafka.streams.KeyValue.pair(
                    Topics.passKey(v.getModel(), v.getPassId()), new PassInput(v)),
                    Named.as(name + "-key-plans")), Named.as(name + "-merge-plans"));
        }
        return inputs
                .repartition(Repartitioned.with(Serdes.String(), inputSerde).withName(name + "-pass-inputs"))
                .process(() -> new PassAssembler(itemsStore, progressStore, catalog, plans != null),
                        Named.as(name + "-assemble-pass"), itemsStore, progressStore);
    }
}
