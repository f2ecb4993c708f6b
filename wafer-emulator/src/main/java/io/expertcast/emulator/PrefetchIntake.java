package io.expertcast.emulator;

import io.expertcast.core.model.ModelShape;
import io.expertcast.emulator.engine.Policies;
import io.expertcast.emulator.engine.PolicyTotals;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.emulator.prefetch.PrefetchBook;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads moe.prefetch for the Pred policies (prefetch source topic) in two steps. {@link Check}, on
 * the topic itself: a command for a model the catalog does not know, or naming a layer or expert
 * its model does not have, becomes a dead letter with the reason and source offset (the latter
 * counted as unknown on the Pred policies' totals); the others go on. Then this processor, in the
 * task that emulates the passes (the commands are repartitioned to it): files each command with the
 * {@link PassEmulator} until the pass it targets is emulated, journalling the book into its
 * changelogged stores ({@link PrefetchBookStores}); a command that is late on arrival is counted at
 * once on the Pred policies' totals, since no pass will carry it. When the task starts it rebuilds
 * the books from those stores, so a restart loses no filed command.
 */
final class PrefetchIntake implements Processor<String, PrefetchCommand, String, PrefetchIntake.Output> {
    private static final Logger LOG = LoggerFactory.getLogger(PrefetchIntake.class);
    private final PassEmulator emulator;
    private ProcessorContext<String, Output> context;
    private PrefetchBookStores stores;

    /** Exactly one of the three is set: a counts-only delta for model/policy, a dead letter, or a valid command. */
    record Output(WaferMetrics delta, DeadLetter deadLetter, PrefetchCommand command) {
    }

    PrefetchIntake(PassEmulator emulator) {
        this.emulator = emulator;
    }

    @Override
    public void init(ProcessorContext<String, Output> context) {
        this.context = context;
        this.stores = new PrefetchBookStores(context.getStateStore(PrefetchBookStores.PROGRESS_STORE),
                context.getStateStore(PrefetchBookStores.COMMANDS_STORE));
        long restored = stores.restoreInto(emulator);
        if (restored > 0) {
            LOG.info("{}: {} filed prefetch command(s) restored from the state stores", emulator.settings().applicationName(),
                    restored);
        }
    }

    @Override
    public void process(Record<String, PrefetchCommand> record) {
        PrefetchCommand command = record.value();
        PassEmulator.CommandOutcome outcome = emulator.offer(command, stores.of(command.getModel()));
        forwardCounts(context, record, emulator.settings(), command, outcome.counts());
    }

    private static void forwardCounts(ProcessorContext<String, Output> context, Record<String, PrefetchCommand> record,
                                      EmulatorSettings settings, PrefetchCommand command, PrefetchCounts counts) {
        if (counts.isNone()) {
            return;
        }
        for (String policy : settings.policies()) {
            if (Policies.needsPrediction(policy)) {
                WaferMetrics delta = WaferTotals.delta(command.getModel(), settings.hardware().name(), -1,
                        command.getEventTimeMs(), PolicyTotals.empty(policy), counts);
                context.forward(record.withKey(command.getModel() + "/" + policy)
                        .withValue(new Output(delta, null, null)));
            }
        }
    }

    /** The stateless first step, on moe.prefetch: rejects what no book can take, lets the rest through. */
    static final class Check implements Processor<String, PrefetchCommand, String, Output> {
        private final PassEmulator emulator;
        private final WaferSnapshot snapshot;
        private ProcessorContext<String, Output> context;

        Check(PassEmulator emulator, WaferSnapshot snapshot) {
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
            Optional<ModelShape> model = settings.catalog().byId(command.getModel());
            if (model.isEmpty()) {
                snapshot.unknownModelCommand();
                reject(record, "prefetch command for request " + command.getRequestId() + " names unknown model '"
                        + command.getModel() + "'");
                return;
            }
            String problem = PrefetchBook.problem(model.get(), command);
            if (problem != null) {
                reject(record, problem);
                forwardCounts(context, record, settings, command, new PrefetchCounts(0, 0, 1, 0));
                return;
            }
            context.forward(record.withValue(new Output(null, null, command)));
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
            context.forward(record.withValue(new Output(null, letter, null)));
        }
    }
}
