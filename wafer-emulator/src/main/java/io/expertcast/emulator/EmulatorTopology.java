package io.expertcast.emulator;

import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.ValidatedPasses;
import io.expertcast.streams.ValidatedSelections;
import io.expertcast.streams.pass.PassAssembly;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;

/**
 * The emulator service: a pass's selections, its ForwardPass and the allocator's plans meet on
 * {@code model/pass}; every policy runs on it; per-policy deltas are summed on {@code model/policy}
 * and published to moe.wafer-metrics. With the prefetch source topic (the default) the Pred policies
 * copy what the predictor's commands on moe.prefetch ask for ({@link PrefetchIntake} files them, the
 * pass they target applies them); with in-process they forecast with the core's heatmap and
 * moe.prefetch is not read.
 */
public final class EmulatorTopology {
    private EmulatorTopology() {
    }

    public static void build(StreamsBuilder builder, EmulatorSettings settings) {
        build(builder, settings, new WaferSnapshot());
    }

    /** As above; {@code snapshot} observes every pass's results and the published totals (for the HTTP API). */
    public static void build(StreamsBuilder builder, EmulatorSettings settings, WaferSnapshot snapshot) {
        build(builder, new PassEmulator(settings), snapshot);
    }

    /** As above, running the passes on {@code emulator} (tests inspect its engines afterwards). */
    static void build(StreamsBuilder builder, PassEmulator emulator, WaferSnapshot snapshot) {
        EmulatorSettings settings = emulator.settings();
        String app = settings.applicationName();
        snapshot.mesh(settings.hardware());
        snapshot.prefetchSource(settings.prefetchSource().label());
        var selections = ValidatedSelections.stream(builder, settings.catalog(), app, settings.eventTimeBound());
        var passes = ValidatedPasses.stream(builder, settings.catalog(), app, settings.eventTimeBound());
        // A plan that matches no pass (unknown model or pass id) never completes an assembly and is
        // reported on moe.dead-letter by the assembly's idle timeout; a bad plan of a real pass is
        // reported by PassEmulator. Without the allo policy a pass does not wait for plans at all.
        var plans = settings.needsPlans()
                ? builder.stream(Topics.ALLOCATIONS.name(), Consumed.with(Topics.ALLOCATIONS.keySerde(),
                        Topics.ALLOCATIONS.valueSerde()).withName("emulator-plans"))
                : null;
        boolean commands = settings.needsPrefetchCommands();
        KStream<String, PassEmulator.Outcome> outcomes;
        if (commands) {
            // The Pred state (filed commands, request progress) lives in changelogged stores that the pass
            // emulation and the command intake share: both run in one task, so the assembly and the
            // commands are brought to one partition (the engines need a model's passes in order anyway).
            PrefetchBookStores.addTo(builder);
            EngineStates.addTo(builder);
            outcomes = PassAssembly.assemble(builder, "emulator", settings.catalog(), selections, passes, plans,
                            PassAssembly.DEFAULT_IDLE_TIMEOUT, 1)
                    .processValues(() -> new EmulatePass(emulator, snapshot, true), Named.as("emulate-pass"),
                            PrefetchBookStores.PROGRESS_STORE, PrefetchBookStores.COMMANDS_STORE, EngineStates.STORE);
        } else {
            // One partition here too: a (model, source) wafer is one engine per policy that must see every pass
            // of its source in order, in one task, whose store keeps the engines' state (EngineStates) so a
            // restart, or another instance taking the task over, goes on with the same wafer.
            EngineStates.addTo(builder);
            outcomes = PassAssembly.assemble(builder, "emulator", settings.catalog(), selections, passes, plans,
                            PassAssembly.DEFAULT_IDLE_TIMEOUT, 1)
                    .processValues(() -> new EmulatePass(emulator, snapshot, false), Named.as("emulate-pass"),
                            EngineStates.STORE);
        }
        outcomes.filter((k, v) -> v.deadLetter() != null, Named.as("rejected-inputs"))
                .map((k, v) -> KeyValue.pair(k.getBytes(StandardCharsets.UTF_8), v.deadLetter()),
                        Named.as("rejected-input-letters"))
                .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                        Topics.DEAD_LETTER.valueSerde()).withName("emulator-dead-letter-sink"));
        KStream<String, WaferMetrics> deltas = outcomes.flatMap((k, v) -> v.deltas().stream()
                        .map(d -> KeyValue.pair(WaferTotals.key(d), d)).toList(),
                Named.as("per-policy-deltas"));
        if (commands) {
            // Commands are not waited for: the pass that completes first runs with what has arrived.
            var checked = builder.stream(Topics.PREFETCH.name(), Consumed.with(Topics.PREFETCH.keySerde(),
                            Topics.PREFETCH.valueSerde()).withName("emulator-prefetch"))
                    .process(() -> new PrefetchIntake.Check(emulator, snapshot), Named.as("check-prefetch-commands"));
            checked.filter((k, v) -> v.deadLetter() != null, Named.as("rejected-prefetch"))
                    .map((k, v) -> KeyValue.pair(k == null ? null : k.getBytes(StandardCharsets.UTF_8), v.deadLetter()),
                            Named.as("rejected-prefetch-letters"))
                    .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                            Topics.DEAD_LETTER.valueSerde()).withName("emulator-prefetch-dead-letter-sink"));
            // The key (source/requestId or the bare request id) names the command's source: it travels
            // through the repartition unchanged, and the source is resolved where the books are.
            var filed = checked.filter((k, v) -> v.command() != null, Named.as("valid-prefetch"))
                    .mapValues(PrefetchIntake.Output::command, Named.as("valid-prefetch-command"))
                    .repartition(Repartitioned.with(Topics.PREFETCH.keySerde(), Topics.PREFETCH.valueSerde())
                            .withName("emulator-prefetch-commands").withNumberOfPartitions(1))
                    .process(() -> new PrefetchIntake(emulator), Named.as("file-prefetch-commands"),
                            PrefetchBookStores.PROGRESS_STORE, PrefetchBookStores.COMMANDS_STORE);
            filed.filter((k, v) -> v.deadLetter() != null, Named.as("rejected-filed-prefetch"))
                    .map((k, v) -> KeyValue.pair(k == null ? null : k.getBytes(StandardCharsets.UTF_8), v.deadLetter()),
                            Named.as("rejected-filed-prefetch-letters"))
                    .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                            Topics.DEAD_LETTER.valueSerde()).withName("emulator-filed-prefetch-dead-letter-sink"));
            deltas = deltas.merge(filed.filter((k, v) -> v.delta() != null, Named.as("prefetch-count-changes"))
                            .mapValues(PrefetchIntake.Output::delta, Named.as("prefetch-deltas")),
                            Named.as("merge-prefetch-deltas"));
        }
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(WaferTotals.STORE),
                Serdes.String(), Topics.WAFER_METRICS.valueSerde()));
        deltas.repartition(Repartitioned.<String, WaferMetrics>with(Serdes.String(), Topics.WAFER_METRICS.valueSerde())
                        .withName("emulator-policy-deltas"))
                .process(WaferTotals::new, Named.as("sum-wafer-totals"), WaferTotals.STORE)
                .peek(snapshot::totals, Named.as("observe-wafer-totals"))
                .to(Topics.WAFER_METRICS.name(), Produced.with(Topics.WAFER_METRICS.keySerde(),
                        Topics.WAFER_METRICS.valueSerde()).withName("wafer-metrics-sink"));
    }
}
