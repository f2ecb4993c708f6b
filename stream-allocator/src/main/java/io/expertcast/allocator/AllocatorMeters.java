package io.expertcast.allocator;

import io.expertcast.schemas.AllocatorMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The allocator's own metrics, counted from each AllocatorMetrics record as it leaves for
 * moe.allocator-metrics (one per forward pass and MoE layer), per model:
 * {@code expertcast_allocator_layer_plans_total}, {@code _moves_total} (placement changes that took
 * effect), {@code _moved_bytes_total}, {@code _remote_tokens_total}, {@code _remote_hops_total}, the
 * die balance of each planned layer ({@code expertcast_allocator_die_balance_ratio}, max / mean die
 * tokens, a summary: rate(_sum) / rate(_count) is the mean balance over a window) and the planned
 * layer time ({@code expertcast_allocator_planned_layer_seconds}). Under exactly-once a task that is
 * retried counts its records again: these are operational figures, moe.allocator-metrics is the record.
 */
public final class AllocatorMeters {
    private static final AllocatorMeters NONE = new AllocatorMeters(null);

    private final MeterRegistry registry;
    private final Map<String, ModelMeters> models = new ConcurrentHashMap<>();

    private AllocatorMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Meters on {@code registry}. */
    public static AllocatorMeters on(MeterRegistry registry) {
        return new AllocatorMeters(registry);
    }

    /** Counts nothing (tests and callers without a registry). */
    public static AllocatorMeters none() {
        return NONE;
    }

    /** One planned (pass, MoE layer). */
    public void observe(AllocatorMetrics m) {
        if (registry == null || m == null) {
            return;
        }
        ModelMeters meters = models.computeIfAbsent(m.getModel(), this::meters);
        meters.plans.increment();
        meters.moves.increment(m.getMoves());
        meters.movedBytes.increment(m.getMovedBytes());
        meters.remoteTokens.increment(m.getRemoteTokens());
        meters.remoteHops.increment(m.getRemoteHops());
        if (m.getMeanDieTokens() > 0) {
            meters.balance.record(m.getMaxDieTokens() / m.getMeanDieTokens());
        }
        meters.layerTime.record((long) m.getPlannedLayerNs(), TimeUnit.NANOSECONDS);
    }

    private ModelMeters meters(String model) {
        return new ModelMeters(
                counter("expertcast.allocator.layer.plans", "plans", "Allocation plans made (one per forward pass and MoE layer)", model),
                counter("expertcast.allocator.moves", "moves", "Expert placement changes that took effect (replicate, migrate, evict)", model),
                counter("expertcast.allocator.moved", "bytes", "Expert weight bytes the placement changes moved", model),
                counter("expertcast.allocator.remote", "tokens", "Tokens planned on a die without a copy of their expert", model),
                counter("expertcast.allocator.remote.hops", "hops", "Hops of remote expert-weight reads, weighted by Manhattan distance", model),
                DistributionSummary.builder("expertcast.allocator.die.balance").baseUnit("ratio")
                        .description("Max over mean die tokens of each planned layer (1 = balanced)")
                        .tag("model", model).register(registry),
                Timer.builder("expertcast.allocator.planned.layer")
                        .description("Planned MoE-layer time (slowest die under Algorithm 1's cost)")
                        .tag("model", model).register(registry));
    }

    private Counter counter(String name, String unit, String help, String model) {
        return Counter.builder(name).baseUnit(unit).description(help).tag("model", model).register(registry);
    }

    private record ModelMeters(Counter plans, Counter moves, Counter movedBytes, Counter remoteTokens,
                               Counter remoteHops, DistributionSummary balance, Timer layerTime) {
    }
}
