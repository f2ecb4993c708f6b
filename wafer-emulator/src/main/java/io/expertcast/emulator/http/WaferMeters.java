package io.expertcast.emulator.http;

import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * The emulator's own metrics, per model, mesh and policy, read from the {@link WaferSnapshot} at each
 * scrape (the totals it publishes on moe.wafer-metrics): emulated tokens, passes, MoE time, hops,
 * weight reads by source, link bytes (counters); throughput, speed-up over Base, LLC hit rate and
 * die balance (gauges); and what became of the predictor's prefetch commands
 * ({@code expertcast_prefetch_commands_total{fate=used|late|expired|unknown}} and the in-time share
 * {@code expertcast_prefetch_in_time_ratio} = used / (used + late + expired)): the emulator is where
 * a command's timeliness is known. Meters of a model/policy appear at the first scrape after its
 * first pass.
 */
public final class WaferMeters {
    private final MeterRegistry registry;
    private final WaferSnapshot snapshot;
    private final Set<String> registered = ConcurrentHashMap.newKeySet();

    private WaferMeters(MeterRegistry registry, WaferSnapshot snapshot) {
        this.registry = registry;
        this.snapshot = snapshot;
    }

    /** Registers the meters of every model/policy in {@code snapshot} before each scrape of {@code metrics}. */
    public static void bind(ServiceMetrics metrics, WaferSnapshot snapshot) {
        WaferMeters meters = new WaferMeters(metrics.registry(), snapshot);
        FunctionCounter.builder("expertcast.prefetch.unknown.model.commands", snapshot, WaferSnapshot::unknownModelCommands)
                .baseUnit("commands").description("moe.prefetch commands naming a model the catalog does not know")
                .register(metrics.registry());
        metrics.beforeScrape("wafer-snapshot", meters::registerNew);
    }

    void registerNew() {
        for (Map.Entry<String, WaferMetrics> e : snapshot.totals().entrySet()) {
            if (registered.add(e.getKey())) {
                register(e.getKey(), e.getValue());
            }
        }
    }

    private void register(String key, WaferMetrics first) {
        Tags tags = Tags.of("model", first.getModel(), "mesh", first.getMesh(), "policy", first.getPolicy());
        counter(key, tags, "expertcast.wafer.emulated", "tokens", "Decode tokens emulated", WaferMetrics::getTokens);
        counter(key, tags, "expertcast.wafer.passes", "passes", "Forward passes emulated", WaferMetrics::getPasses);
        counter(key, tags, "expertcast.wafer.moe.time", "seconds", "Emulated MoE-layer time (slowest die per layer)",
                m -> m.getMoeTimeNs() / 1e9);
        counter(key, tags, "expertcast.wafer.hops", "hops", "Remote expert-weight reads weighted by Manhattan distance",
                WaferMetrics::getHops);
        counter(key, tags, "expertcast.wafer.link", "bytes", "Bytes over all directed die-to-die links", WaferMetrics::getLinkBytes);
        Tags reads = tags.and("source", "local");
        counter(key, reads, "expertcast.wafer.weight.reads", "reads", "Expert weight reads by where they were served from",
                WaferMetrics::getLocalReads);
        counter(key, tags.and("source", "remote"), "expertcast.wafer.weight.reads", "reads",
                "Expert weight reads by where they were served from", WaferMetrics::getRemoteReads);
        counter(key, tags.and("source", "copy"), "expertcast.wafer.weight.reads", "reads",
                "Expert weight reads by where they were served from", WaferMetrics::getCopyReads);
        gauge(key, tags, "expertcast.wafer.throughput", "tokens.per.second",
                "Decode tokens per second of emulated MoE time, since the emulator started", WaferMetrics::getThroughputTokensPerS);
        gauge(key, tags, "expertcast.wafer.speedup", "ratio", "Throughput over the Base policy's for the same model and mesh",
                m -> {
                    WaferMetrics base = snapshot.totals().get(m.getModel() + "/base");
                    return base == null || base.getThroughputTokensPerS() <= 0 ? Double.NaN
                            : m.getThroughputTokensPerS() / base.getThroughputTokensPerS();
                });
        gauge(key, tags, "expertcast.wafer.llc.hit", "ratio", "Share of weight reads served by the LLC", WaferMetrics::getLlcHitRate);
        gauge(key, tags, "expertcast.wafer.die.balance", "ratio", "Slowest die time over mean die time (1 = balanced)",
                WaferMetrics::getDieBalance);
        if (first.getPolicy().contains("pred")) {
            String help = "moe.prefetch commands by what became of them (used: applied to a pass in time)";
            counter(key, tags.and("fate", "used"), "expertcast.prefetch.commands", "commands", help, WaferMetrics::getPrefetchUsed);
            counter(key, tags.and("fate", "late"), "expertcast.prefetch.commands", "commands", help, WaferMetrics::getPrefetchLate);
            counter(key, tags.and("fate", "expired"), "expertcast.prefetch.commands", "commands", help, WaferMetrics::getPrefetchExpired);
            counter(key, tags.and("fate", "unknown"), "expertcast.prefetch.commands", "commands", help, WaferMetrics::getPrefetchUnknown);
            gauge(key, tags, "expertcast.prefetch.in.time", "ratio",
                    "Share of prefetch commands that arrived before their pass: used / (used + late + expired)", m -> {
                        double all = m.getPrefetchUsed() + m.getPrefetchLate() + m.getPrefetchExpired();
                        return all == 0 ? Double.NaN : m.getPrefetchUsed() / all;
                    });
        }
    }

    private void counter(String key, Tags tags, String name, String unit, String help, ToDoubleFunction<WaferMetrics> value) {
        FunctionCounter.builder(name, snapshot, s -> value.applyAsDouble(s.totals().get(key)))
                .tags(tags).baseUnit(unit).description(help).register(registry);
    }

    private void gauge(String key, Tags tags, String name, String unit, String help, ToDoubleFunction<WaferMetrics> value) {
        Gauge.builder(name, snapshot, s -> value.applyAsDouble(s.totals().get(key)))
                .tags(tags).baseUnit(unit).description(help).register(registry);
    }
}
