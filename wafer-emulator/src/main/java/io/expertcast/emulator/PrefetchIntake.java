package io.expertcast.emulator;

import io.expertcast.core.wafer.Policies;
import io.expertcast.core.wafer.PolicyTotals;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.core.wafer.PrefetchCounts;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.DeadLetters;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads moe.prefetch for the Pred policies (prefetch source topic) in two steps. {@link Check}, on
 * the topic itself: a null command, or one for a model the catalog does not know, becomes a dead
 * letter with the reason and source offset; the others go on, stamped with where they were read
 * (headers: the repartition in between must not hide the source offset). Then this processor, in
 * the task that emulates the passes (the commands are repartitioned to it): resolves the command's
 * source from its key ({@code source/requestId}, or a bare request id, see
 * {@link PassEmulator#offer(PrefetchCommand, String)}) and files it with that (model, source)'s book
 * until the pass it targets is emulated, journalling the book into its changelogged stores
 * ({@link PrefetchBookStores}). A command naming a layer or expert its model does not have, or whose
 * source cannot be told, becomes a dead letter with its moe.prefetch offset and counts as unknown;
 * a command that is late on arrival is counted at once on the Pred policies' totals of its source,
 * since no pass will carry it. The source is resolved before the check so that an unknown command
 * counts for the source it came from. When the task starts it rebuilds every (model, source) book
 * from those stores, so a restart loses no filed command.
 */
final class PrefetchIntake implements Processor<String, PrefetchCommand, String, PrefetchIntake.Output> {
    private static final Logger LOG = LoggerFactory.getLogger(PrefetchIntake.class);
    static final String ORIGIN_TOPIC = "expertcast.origin.topic";
    static final String ORIGIN_PARTITION = "expertcast.origin.partition";
    static final String ORIGIN_OFFSET = "expertcast.origin.offset";
    private final PassEmulator emulator;
    private ProcessorContext<String, Output> context;
    private PrefetchBookStores stores;

    /** Exactly one of the three is set: a counts-only delta for model/source/policy, a dead letter, or a valid command. */
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
        PassEmulator.CommandOutcome outcome = emulator.offer(command, record.key(), stores);
        if (outcome.problem() != null) {
            Headers h = record.headers();
            String topic = text(h.lastHeader(ORIGIN_TOPIC));
            context.forward(record.withHeaders(new RecordHeaders()).withValue(new Output(null,
                    letter(emulator, topic == null ? Topics.PREFETCH.name() : topic,
                            (int) number(h.lastHeader(ORIGIN_PARTITION)), number(h.lastHeader(ORIGIN_OFFSET)),
                            outcome.problem(), record), null)));
        }
        forwardCounts(context, record, emulator.settings(), command, outcome.source(), outcome.counts());
    }

    private static void forwardCounts(ProcessorContext<String, Output> context, Record<String, PrefetchCommand> record,
                                      EmulatorSettings settings, PrefetchCommand command, String source,
                                      PrefetchCounts counts) {
        if (counts.isNone()) {
            return;
        }
        for (String policy : settings.policies()) {
            if (Policies.needsPrediction(policy)) {
                WaferMetrics delta = WaferTotals.delta(command.getModel(), source, settings.hardware().name(), -1,
                        command.getEventTimeMs(), PolicyTotals.empty(policy), counts);
                context.forward(record.withKey(WaferTotals.key(delta)).withHeaders(new RecordHeaders())
                        .withValue(new Output(delta, null, null)));
            }
        }
    }

    private static DeadLetter letter(PassEmulator emulator, String topic, int partition, long offset, String reason,
                                     Record<String, PrefetchCommand> record) {
        byte[] raw = record.value() == null ? null
                : Topics.PREFETCH.valueSerde().serializer().serialize(Topics.PREFETCH.name(), record.value());
        return DeadLetters.of(emulator.settings().applicationName(), topic, partition, offset, reason,
                record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8), raw);
    }

    private static String text(Header header) {
        return header == null || header.value() == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    private static long number(Header header) {
        return header == null || header.value() == null || header.value().length != Long.BYTES ? -1
                : ByteBuffer.wrap(header.value()).getLong();
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
            Optional<RecordMetadata> meta = context.recordMetadata();
            String topic = meta.map(RecordMetadata::topic).orElse(Topics.PREFETCH.name());
            int partition = meta.map(RecordMetadata::partition).orElse(-1);
            long offset = meta.map(RecordMetadata::offset).orElse(-1L);
            if (command == null) {
                context.forward(record.withValue(new Output(null,
                        letter(emulator, topic, partition, offset, "null value", record), null)));
                return;
            }
            if (emulator.settings().catalog().byId(command.getModel()).isEmpty()) {
                snapshot.unknownModelCommand();
                context.forward(record.withValue(new Output(null, letter(emulator, topic, partition, offset,
                        "prefetch command for request " + command.getRequestId() + " names unknown model '"
                                + command.getModel() + "'", record), null)));
                return;
            }
            // Where the command was read, for a dead letter the filing step may still write.
            Headers origin = new RecordHeaders()
                    .add(ORIGIN_TOPIC, topic.getBytes(StandardCharsets.UTF_8))
                    .add(ORIGIN_PARTITION, ByteBuffer.allocate(Long.BYTES).putLong(partition).array())
                    .add(ORIGIN_OFFSET, ByteBuffer.allocate(Long.BYTES).putLong(offset).array());
            context.forward(record.withHeaders(origin).withValue(new Output(null, null, command)));
        }
    }
}
