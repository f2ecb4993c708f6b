package io.expertcast.allocator;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.ExpertLoad;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WorkloadObservation;
import io.expertcast.streams.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Live load from a serving engine (moe.expert-load, written by attach from SGLang's stat and per_pass
 * recorder windows) as workload observations: each source is a workload tag of its own
 * ({@code live:<source>}), so {@link ProfileRebalancer} keeps its decayed profile and re-places the
 * model's experts for it within the move budget, as for tagged selections. per_token windows are
 * not taken: their tokens reach the allocator as selections already, and would count twice. A load
 * that does not fit the catalog's model is a dead letter.
 */
final class ExpertLoadIntake implements Processor<String, ExpertLoad, String, SpecificRecord> {
    /** The tag prefix of a live source's observations. */
    static final String TAG_PREFIX = "live:";

    private final ModelCatalog catalog;
    private final String application;
    private ProcessorContext<String, SpecificRecord> context;

    ExpertLoadIntake(ModelCatalog catalog, String application) {
        this.catalog = catalog;
        this.application = application;
    }

    /** The observation of a load, or why there is none (null problem and null observation: not taken). */
    record Intake(WorkloadObservation observation, String problem) {
    }

    /** Kafka-free: the MoE layers' rows of a load window, checked against the catalog. */
    static Intake of(ModelCatalog catalog, ExpertLoad load) {
        if (load.getMode().equals("per_token")) {
            return new Intake(null, null);
        }
        Optional<ModelShape> found = catalog.byId(load.getModel());
        if (found.isEmpty()) {
            return new Intake(null, "expert load of unknown model " + load.getModel());
        }
        ModelShape model = found.get();
        if (load.getNumLayers() != model.numLayers() || load.getNumExperts() != model.numExperts()) {
            return new Intake(null, "expert load of " + load.getModel() + " is " + load.getNumLayers() + " layers x "
                    + load.getNumExperts() + " experts, the catalog's model " + model.numLayers() + " x "
                    + model.numExperts());
        }
        if (load.getCounts().size() != load.getNumLayers() * load.getNumExperts()) {
            return new Intake(null, "expert load holds " + load.getCounts().size() + " counts for " + load.getNumLayers()
                    + " x " + load.getNumExperts());
        }
        int[] counts = new int[model.numMoeLayers() * model.numExperts()];
        for (int m = 0; m < model.numMoeLayers(); m++) {
            int layer = model.moeLayer(m);
            for (int e = 0; e < model.numExperts(); e++) {
                long c = load.getCounts().get(layer * model.numExperts() + e);
                if (c < 0) {
                    return new Intake(null, "expert load has a negative count at layer " + layer + ", expert " + e);
                }
                counts[m * model.numExperts() + e] = (int) Math.min(Integer.MAX_VALUE, c);
            }
        }
        return new Intake(new WorkloadObservation(model.id(), TAG_PREFIX + load.getSourceId(), -1L,
                model.numMoeLayers(), model.numExperts(), WorkloadObservations.pack(counts), load.getEventTimeMs()), null);
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        this.context = context;
    }

    @Override
    public void process(Record<String, ExpertLoad> record) {
        if (record.value() == null) {
            deadLetter(record, "an expert load without a value");
            return;
        }
        Intake intake = of(catalog, record.value());
        if (intake.problem() != null) {
            deadLetter(record, intake.problem());
        } else if (intake.observation() != null) {
            context.forward(new Record<>(intake.observation().getModel(), intake.observation(), record.timestamp()));
        }
    }

    private void deadLetter(Record<String, ExpertLoad> record, String reason) {
        Optional<RecordMetadata> meta = context.recordMetadata();
        byte[] raw = record.value() == null ? null : Topics.EXPERT_LOAD.valueSerde().serializer()
                .serialize(Topics.EXPERT_LOAD.name(), record.value());
        context.forward(new Record<String, SpecificRecord>(record.key(), DeadLetters.of(application,
                meta.map(RecordMetadata::topic).orElse(Topics.EXPERT_LOAD.name()),
                meta.map(RecordMetadata::partition).orElse(-1),
                meta.map(RecordMetadata::offset).orElse(-1L),
                reason,
                record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8),
                raw), record.timestamp()));
    }
}
