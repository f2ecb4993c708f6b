package io.expertcast.emulator;

import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.streams.pass.CompletedPass;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;

/**
 * Emulates each completed pass under every policy, journalling the engines' state ({@link EngineStates})
 * and, with the prefetch source topic, what the pass changed in its model's prefetch book
 * ({@link PrefetchBookStores}) into the task's changelogged stores, in the same transaction as the pass's
 * outputs.
 */
final class EmulatePass implements FixedKeyProcessor<String, CompletedPass, PassEmulator.Outcome> {
    private final PassEmulator emulator;
    private final WaferSnapshot snapshot;
    private FixedKeyProcessorContext<String, PassEmulator.Outcome> context;
    private final boolean books;
    private EngineStates stores;

    /** @param books whether the prefetch books' stores are attached (prefetch source topic) */
    EmulatePass(PassEmulator emulator, WaferSnapshot snapshot, boolean books) {
        this.emulator = emulator;
        this.snapshot = snapshot;
        this.books = books;
    }

    @Override
    public void init(FixedKeyProcessorContext<String, PassEmulator.Outcome> context) {
        this.context = context;
        Object max = context.appConfigs().get(PassEmulator.MAX_SOURCES_CONFIG);
        if (max != null) {
            emulator.maxSourcesPerModel(Integer.parseInt(max.toString()));
        }
        PassEmulator.Journals bookStores = books
                ? new PrefetchBookStores(context.getStateStore(PrefetchBookStores.PROGRESS_STORE),
                        context.getStateStore(PrefetchBookStores.COMMANDS_STORE))
                : PassEmulator.Journals.NONE;
        this.stores = new EngineStates(context.getStateStore(EngineStates.STORE), context.taskId().toString(), bookStores);
        int restored = stores.restoreInto(emulator);
        if (restored > 0) {
            org.slf4j.LoggerFactory.getLogger(EmulatePass.class).info("task {}: {} wafer engine(s) restored",
                    context.taskId(), restored);
        }
    }

    @Override
    public void process(FixedKeyRecord<String, CompletedPass> record) {
        CompletedPass pass = record.value();
        PassEmulator.Outcome outcome = emulator.emulate(pass, emulator.settings().applicationName(), null, stores);
        observe(emulator.settings(), snapshot, pass, outcome);
        context.forward(record.withValue(outcome));
    }

    /** What the dashboard and the pipeline page show of an emulated pass (with or without the stores). */
    static void observe(EmulatorSettings settings, WaferSnapshot snapshot, CompletedPass pass,
                        PassEmulator.Outcome outcome) {
        outcome.results().forEach(r -> snapshot.lastPass(pass.pass().getModel(), pass.pass().getSource(),
                pass.pass().getPassId(), r));
        settings.catalog().byId(pass.pass().getModel())
                .ifPresent(m -> snapshot.requests().observe(pass.selections(), m.numExperts()));
    }
}
