package io.expertcast.emulator;

import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.streams.pass.CompletedPass;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;

/**
 * Emulates each completed pass under every policy (with the prefetch source topic), journalling
 * what the pass changed in its model's prefetch book into the task's changelogged stores, in the
 * same transaction as the pass's outputs.
 */
final class EmulatePass implements FixedKeyProcessor<String, CompletedPass, PassEmulator.Outcome> {
    private final PassEmulator emulator;
    private final WaferSnapshot snapshot;
    private FixedKeyProcessorContext<String, PassEmulator.Outcome> context;
    private PrefetchBookStores stores;

    EmulatePass(PassEmulator emulator, WaferSnapshot snapshot) {
        this.emulator = emulator;
        this.snapshot = snapshot;
    }

    @Override
    public void init(FixedKeyProcessorContext<String, PassEmulator.Outcome> context) {
        this.context = context;
        this.stores = new PrefetchBookStores(context.getStateStore(PrefetchBookStores.PROGRESS_STORE),
                context.getStateStore(PrefetchBookStores.COMMANDS_STORE));
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
