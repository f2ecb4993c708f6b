package io.expertcast.streams.pass;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassInput;
import io.expertcast.schemas.PassProgress;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;

/**
 * Topology fragment: brings the selections, the ForwardPass record and (optionally) the plans of
 * each forward pass together on the key {@code model/source/pass} ({@link Topics#passKey(String, String, long)},
 * a repartition), so that a pass's work is spread over partitions by pass and no single key carries
 * the whole stream. The source (engine instance or replay) is part of the pass's identity: passes of
 * two sources with the same pass id are assembled apart. Emits one
 * {@link CompletedPass} when every token of the pass (and every layer's plan) has arrived.
 */
public final class PassAssembly {
    private PassAssembly() {
    }

    /** How long a pass may wait for its next input before it is given up (dead-lettered). */
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(2);

    /**
     * @param name      prefix of the repartition topic and the stores (unique per application)
     * @param plans     the plans stream, or null when the pass is complete without plans
     */
    public static KStream<String, CompletedPass> assemble(StreamsBuilder builder, String name, ModelCatalog catalog,
                                                          KStream<String, SelectionEvent> selections,
                                                          KStream<String, ForwardPass> passes,
                                                          KStream<String, AllocationPlan> plans) {
        return assemble(builder, name, catalog, selections, passes, plans, DEFAULT_IDLE_TIMEOUT);
    }

    /** As above, with the idle timeout after which an incomplete pass becomes a dead letter. */
    public static KStream<String, CompletedPass> assemble(StreamsBuilder builder, String name, ModelCatalog catalog,
                                                          KStream<String, SelectionEvent> selections,
                                                          KStream<String, ForwardPass> passes,
                                                          KStream<String, AllocationPlan> plans,
                                                          Duration idleTimeout) {
        return assemble(builder, name, catalog, selections, passes, plans, idleTimeout, 0);
    }

    /**
     * As above, the repartition topic with {@code partitions} partitions (0: as many as its inputs):
     * a stage whose state for a model must meet other streams in one task (the emulator's Pred
     * state) assembles in one partition.
     */
    public static KStream<String, CompletedPass> assemble(StreamsBuilder builder, String name, ModelCatalog catalog,
                                                          KStream<String, SelectionEvent> selections,
                                                          KStream<String, ForwardPass> passes,
                                                          KStream<String, AllocationPlan> plans,
                                                          Duration idleTimeout, int partitions) {
        var inputSerde = SerdeFactory.defaultFactory().serde(PassInput.class);
        var progressSerde = SerdeFactory.defaultFactory().serde(PassProgress.class);
        String itemsStore = name + "-pass-items";
        String progressStore = name + "-pass-progress";
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(itemsStore),
                Serdes.String(), inputSerde));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(progressStore),
                Serdes.String(), progressSerde));

        KStream<String, PassInput> inputs = selections
                .map((k, v) -> KeyValue.pair(Topics.passKey(v.getModel(), v.getSource(), v.getPassId()),
                        new PassInput(v)), Named.as(name + "-key-selections"))
                .merge(passes.map((k, v) -> KeyValue.pair(
                        Topics.passKey(v.getModel(), v.getSource(), v.getPassId()), new PassInput(v)),
                        Named.as(name + "-key-passes")), Named.as(name + "-merge-passes"));
        if (plans != null) {
            inputs = inputs.merge(plans.map((k, v) -> KeyValue.pair(
                    Topics.passKey(v.getModel(), v.getSource(), v.getPassId()), new PassInput(v)),
                    Named.as(name + "-key-plans")), Named.as(name + "-merge-plans"));
        }
        var outcomes = inputs
                .repartition(partitions > 0
                        ? Repartitioned.with(Serdes.String(), inputSerde).withName(name + "-pass-inputs")
                                .withNumberOfPartitions(partitions)
                        : Repartitioned.with(Serdes.String(), inputSerde).withName(name + "-pass-inputs"))
                .process(() -> new PassAssembler(itemsStore, progressStore, catalog, plans != null, idleTimeout),
                        Named.as(name + "-assemble-pass"), itemsStore, progressStore);
        outcomes.filter((k, v) -> v.abandoned() != null, Named.as(name + "-abandoned-passes"))
                .map((k, v) -> KeyValue.pair(k.getBytes(StandardCharsets.UTF_8), v.abandoned()),
                        Named.as(name + "-abandoned-to-dead-letter"))
                .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                        Topics.DEAD_LETTER.valueSerde()).withName(name + "-abandoned-sink"));
        return outcomes.filter((k, v) -> v.completed() != null, Named.as(name + "-completed-passes"))
                .mapValues(PassAssembler.Outcome::completed, Named.as(name + "-completed"));
    }
}
