package io.expertcast.streams;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.time.EventTimeBound;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * The entry of every topology that reads moe.selections: decodes (undecodable records are handled by
 * {@link DeadLetterDeserializationHandler}), validates with {@link SelectionValidator}, sends invalid
 * events to moe.dead-letter with the reason and source offset, and returns the valid ones. An event
 * whose event time runs ahead of the wall clock by more than the {@link EventTimeBound} is invalid
 * too: downstream expiry clocks (the predictor's idle requests, the emulator's pending commands) run
 * on event time, and one record stamped a day ahead would expire every other request.
 */
public final class ValidatedSelections {
    private ValidatedSelections() {
    }

    /** Outcome of validating one event: exactly one of the two is set. */
    public record Checked(SelectionEvent event, DeadLetter deadLetter) {
    }

    public static KStream<String, SelectionEvent> stream(StreamsBuilder builder, ModelCatalog catalog,
                                                         String application) {
        return stream(builder, catalog, application, EventTimeBound.DEFAULT);
    }

    /** As above, rejecting events further ahead of the wall clock than {@code bound}. */
    public static KStream<String, SelectionEvent> stream(StreamsBuilder builder, ModelCatalog catalog,
                                                         String application, EventTimeBound bound) {
        KStream<String, Checked> checked = builder
                .stream(Topics.SELECTIONS.name(),
                        Consumed.with(Topics.SELECTIONS.keySerde(), Topics.SELECTIONS.valueSerde())
                                .withName("selections-source"))
                .processValues(() -> new Validate(catalog, application, bound), Named.as("validate-selections"));
        var branches = checked.split(Named.as("selections-"))
                .branch((k, v) -> v.deadLetter() != null, Branched.as("invalid"))
                .defaultBranch(Branched.as("valid"));
        branches.get("selections-invalid")
                .map((k, v) -> org.apache.kafka.streams.KeyValue.pair(
                        k == null ? null : k.getBytes(StandardCharsets.UTF_8), v.deadLetter()),
                        Named.as("to-dead-letter"))
                .to(Topics.DEAD_LETTER.name(),
                        Produced.with(Topics.DEAD_LETTER.keySerde(), Topics.DEAD_LETTER.valueSerde())
                                .withName("dead-letter-sink"));
        return branches.get("selections-valid").mapValues(Checked::event, Named.as("valid-selections"));
    }

    static final class Validate implements FixedKeyProcessor<String, SelectionEvent, Checked> {
        private final SelectionValidator validator;
        private final String application;
        private final EventTimeBound bound;
        private FixedKeyProcessorContext<String, Checked> context;

        Validate(ModelCatalog catalog, String application, EventTimeBound bound) {
            this.validator = new SelectionValidator(catalog);
            this.application = application;
            this.bound = bound;
        }

        @Override
        public void init(FixedKeyProcessorContext<String, Checked> context) {
            this.context = context;
        }

        @Override
        public void process(FixedKeyRecord<String, SelectionEvent> record) {
            SelectionEvent event = record.value();
            Optional<String> reason = event == null ? Optional.of("null value") : validator.check(event);
            if (reason.isEmpty()) {
                reason = Optional.ofNullable(bound.problem(event.getEventTimeMs(), context.currentSystemTimeMs()));
            }
            if (reason.isEmpty()) {
                context.forward(record.withValue(new Checked(event, null)));
                return;
            }
            Optional<RecordMetadata> meta = context.recordMetadata();
            byte[] raw = event == null ? null
                    : Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(), event);
            DeadLetter letter = DeadLetters.of(application,
                    meta.map(RecordMetadata::topic).orElse(Topics.SELECTIONS.name()),
                    meta.map(RecordMetadata::partition).orElse(-1),
                    meta.map(RecordMetadata::offset).orElse(-1L),
                    reason.get(),
                    record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8),
                    raw);
            context.forward(record.withValue(new Checked(null, letter)));
        }
    }
}
