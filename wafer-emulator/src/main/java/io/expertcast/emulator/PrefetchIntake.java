package io.expertcast.emulator;

import io.expertcast.emulator.engine.Policies;
import io.expertcast.emulator.engine.PolicyTotals;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.emulator.prefetch.PrefetchCounts;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Reads moe.prefetch for the Pred policies (prefetch source topic): files each command with the
 * {@link PassEmulator} until the pass it targets is emulated. A command for a model the catalog does
 * not know, or naming a layer or expert its model does not have, becomes a dead letter with the
 * reason and source offset; a command that is late (or unknown) on arrival is counted at once on
 * the Pred policies' totals, since no pass will carry it.
 */
final class PrefetchIntake implements Processor<String, PrefetchCommand, String, PrefetchIntake.Output> {
    private final PassEmulator emulator;
    private final WaferSnapshot snapshot;
    private ProcessorContext<String, Output> context;

    /** Exactly one of the two is set: a counts-only delta for model/policy, or a dead letter. */
    record Output(WaferMetrics delta, DeadLetter deadLetter) {
    }

    PrefetchIntake(PassEmulator emulator, WaferSnapshot snapshot) {
        this.emulator = emulator;
        this.snapshot = snapshot;
    }

    @Override
    public void init(ProcessorContext<String, Output> context) {
        this.context = context;
    }

    @Override
    public void process(Record<String, PrefetchCommand> record) {
        PrefetchCommand command = record.value();
        if (command == null) {
            reject(record, "null value");
            return;
        }
        EmulatorSettings settings = emulator.settings();
        if (settings.catalog().byId(command.getModel()).isEmpty()) {
            snapshot.unknownModelCommand();
            reject(record, "prefetch command for request " + command.getRequestId() + " names unknown model '"
                    + command.getModel() + "'");
            return;
        }
        PassEmulator.CommandOutcome outcome = emulator.offer(command, record.key());
        if (outcome.problem() != null) {
            reject(record, outcome.problem());
        }
        if (!outcome.counts().isNone()) {
            for (String policy : settings.policies()) {
                if (Policies.needsPrediction(policy)) {
                    WaferMetrics delta = WaferTotals.delta(command.getModel(), outcome.source(),
                            settings.hardware().name(), -1, command.getEventTimeMs(), PolicyTotals.empty(policy),
                            outcome.counts());
                    context.forward(record.withKey(WaferTotals.key(delta)).withValue(new Output(delta, null)));
                }
            }
        }
    }

    private void reject(Record<String, PrefetchCommand> record, String reason) {
        Optional<RecordMetadata> meta = context.recordMetadata();
        byte[] raw = record.value() == null ? null
                : Topics.PREFETCH.valueSerde().serializer().serialize(Topics.PREFETCH.name(), record.value());
        DeadLetter letter = DeadLetters.of(emulator.settings().applicationName(),
                meta.map(RecordMetadata::topic).orElse(Topics.PREFETCH.name()),
                meta.map(RecordMetadata::partition).orElse(-1),
                meta.map(RecordMetadata::offset).orElse(-1L),
                reason,
                record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8),
                raw);
        context.forward(record.withValue(new Output(null, letter)));
    }
}
