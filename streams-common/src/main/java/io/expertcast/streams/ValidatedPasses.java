package io.expertcast.streams;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.time.EventTimeBound;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.kafka.streams.KeyValue;
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
 * Reads moe.passes and lets through only passes the assembly can complete: a known model and a
 * positive token count. The rest go to moe.dead-letter with the reason and source offset, before
 * they reach the pass assembly (a pass of 0 tokens would complete on arrival, one of an unknown
 * model would wait forever). So do passes whose event time runs ahead of the wall clock by more than
 * the {@link EventTimeBound}: the emulator expires pending prefetch commands on the passes' event time.
 */
public final class ValidatedPasses {
    private ValidatedPasses() {
    }

    /** Outcome of checking one pass: exactly one of the two is set. */
    record Checked(ForwardPass pass, DeadLetter deadLetter) {
    }

    public static KStream<String, ForwardPass> stream(StreamsBuilder builder, ModelCatalog catalog,
                                                      String application) {
        return stream(builder, catalog, application, EventTimeBound.DEFAULT);
    }

    /** As above, rejecting passes further ahead of the wall clock than {@code bound}. */
    public static KStream<String, ForwardPass> stream(StreamsBuilder builder, ModelCatalog catalog,
                                                      String application, EventTimeBound bound) {
        var branches = builder
                .stream(Topics.PASSES.name(), Consumed.with(Topics.PASSES.keySerde(), Topics.PASSES.valueSerde())
                        .withName("passes-source"))
                .processValues(() -> new Validate(catalog, application, bound), Named.as("validate-passes"))
                .split(Named.as("passes-"))
                .branch((k, v) -> v.deadLetter() != null, Branched.as("invalid"))
                .defaultBranch(Branched.as("valid"));
        branches.get("passes-invalid")
                .map((k, v) -> KeyValue.pair(k == null ? null : k.getBytes(StandardCharsets.UTF_8), v.deadLetter()),
                        Named.as("passes-to-dead-letter"))
                .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                        Topics.DEAD_LETTER.valueSerde()).withName("passes-dead-letter-sink"));
        return branches.get("passes-valid").mapValues(Checked::pass, Named.as("valid-passes"));
    }

    /** The reason a pass is rejected, or empty. */
    static Optional<String> check(ForwardPass pass, ModelCatalog catalog) {
        if (pass == null) {
            return Optional.of("null value");
        }
        if (catalog.byId(pass.getModel()).isEmpty()) {
            return Optional.of("unknown model '" + pass.getModel() + "'");
        }
        String sourceProblem = Topics.sourceProblem(pass.getSource());
        if (sourceProblem != null) {
            return Optional.of(sourceProblem);
        }
        if (pass.getTotalTokens() <= 0) {
            return Optional.of("forward pass " + pass.getPassId() + " has " + pass.getTotalTokens() + " tokens");
        }
        return Optional.empty();
    }

    static final class Validate implements FixedKeyProcessor<String, ForwardPass, Checked> {
        private final ModelCatalog catalog;
        private final String application;
        private final EventTimeBound bound;
        private FixedKeyProcessorContext<String, Checked> context;

        Validate(ModelCatalog catalog, String application, EventTimeBound bound) {
            this.catalog = catalog;
            this.application = application;
            this.bound = bound;
        }

        @Override
        public void init(FixedKeyProcessorContext<String, Checked> context) {
            this.context = context;
        }

        @Override
        public void process(FixedKeyRecord<String, ForwardPass> record) {
            Optional<String> reason = check(record.value(), catalog);
            if (reason.isEmpty()) {
                reason = Optional.ofNullable(bound.problem(record.value().getEventTimeMs(), context.currentSystemTimeMs()));
            }
            if (reason.isEmpty()) {
                context.forward(record.withValue(new Checked(record.value(), null)));
                return;
            }
            Optional<RecordMetadata> meta = context.recordMetadata();
            byte[] raw = record.value() == null ? null
                    : Topics.PASSES.valueSerde().serializer().serialize(Topics.PASSES.name(), record.value());
            context.forward(record.withValue(new Checked(null, DeadLetters.of(application,
                    meta.map(RecordMetadata::topic).orElse(Topics.PASSES.name()),
                    meta.map(RecordMetadata::partition).orElse(-1),
                    meta.map(RecordMetadata::offset).orElse(-1L),
                    reason.get(),
                    record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8),
                    raw))));
        }
    }
}
