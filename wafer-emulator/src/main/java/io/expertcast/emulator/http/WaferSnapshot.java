package io.expertcast.emulator.http;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.wafer.PassResult;
import io.expertcast.schemas.WaferMetrics;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the HTTP API serves: per model/policy (model/source/policy for a named source) the cumulative totals (as published on
 * moe.wafer-metrics) and the last emulated pass per layer. An observer: the topology writes into it
 * after the fact and nothing reads it back into the computation. Thread-safe (stream thread writes,
 * HTTP threads read).
 */
public final class WaferSnapshot {
    private final Map<String, WaferMetrics> totals = new ConcurrentHashMap<>();
    private final Map<String, Map<String, Object>> lastPass = new ConcurrentHashMap<>();
    private volatile Map<String, Object> mesh = Map.of();
    private volatile String prefetchSource = "";
    private final RequestBook requests = new RequestBook();
    private final java.util.concurrent.atomic.AtomicLong unknownModelCommands = new java.util.concurrent.atomic.AtomicLong();

    /** The wafer the passes run on, so a reader can lay {@code link_bytes} (die x 4 + E, W, S, N) out on the mesh. */
    public void mesh(HardwareConfig hw) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", hw.name());
        m.put("rows", hw.rows());
        m.put("cols", hw.cols());
        m.put("dies", hw.dies());
        m.put("link_order", java.util.List.of("E", "W", "S", "N"));
        mesh = m;
    }

    /** The mesh as {@link #mesh(HardwareConfig)} set it (empty before). */
    public Map<String, Object> mesh() {
        return mesh;
    }

    /** Where the Pred policies' copy decisions come from ({@code topic} or {@code in-process}). */
    public void prefetchSource(String source) {
        prefetchSource = source;
    }

    /** A prefetch command named a model the catalog does not know (a dead letter; no model's totals can count it). */
    public void unknownModelCommand() {
        unknownModelCommands.incrementAndGet();
    }

    /** Totals of {@code model/policy}, as just published. */
    public void totals(String key, WaferMetrics m) {
        totals.put(key, m);
    }

    /** Recent requests' prefill and decode counts, for the page. */
    public RequestBook requests() {
        return requests;
    }

    /** The latest totals per {@code model/policy} (a live read-only view). */
    public Map<String, WaferMetrics> totals() {
        return java.util.Collections.unmodifiableMap(totals);
    }

    /** Prefetch commands naming a model the catalog does not know, so far. */
    public long unknownModelCommands() {
        return unknownModelCommands.get();
    }

    /** The last pass of a model under a policy. */
    public void lastPass(String model, long passId, PassResult r) {
        lastPass(model, "", passId, r);
    }

    /** The last pass of a model's source under a policy (key model/policy, or model/source/policy). */
    public void lastPass(String model, String source, long passId, PassResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pass_id", passId);
        m.put("tokens", r.tokens());
        m.put("moe_time_ns", r.moeNs());
        m.put("layer_ns", r.layerNs().clone());
        m.put("mean_die_ns", r.meanDieNs());
        m.put("hops", r.hops());
        m.put("local_reads", r.localReads());
        m.put("remote_reads", r.remoteReads());
        m.put("copy_reads", r.copyReads());
        m.put("copy_writes", r.copyWrites());
        m.put("llc_hits", r.llcHits());
        m.put("link_bytes", r.linkBytes().clone());
        lastPass.put(source.isEmpty() ? model + "/" + r.policy() : model + "/" + source + "/" + r.policy(), m);
    }

    /**
     * {"mesh": {...}, "prefetch": {"source", "unknown_model_commands"}, "totals": {model/policy: {...}},
     * "last_pass": {model/policy: {...}}}, keys sorted.
     */
    public Map<String, Object> json() {
        Map<String, Object> t = new TreeMap<>();
        totals.forEach((key, m) -> {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("model", m.getModel());
            row.put("source", m.getSource());
            row.put("mesh", m.getMesh());
            row.put("policy", m.getPolicy());
            row.put("passes", m.getPasses());
            row.put("tokens", m.getTokens());
            row.put("throughput_tokens_per_s", m.getThroughputTokensPerS());
            row.put("moe_time_ns", m.getMoeTimeNs());
            row.put("hops", m.getHops());
            row.put("reads", m.getReads());
            row.put("local_reads", m.getLocalReads());
            row.put("remote_reads", m.getRemoteReads());
            row.put("copy_reads", m.getCopyReads());
            row.put("copy_writes", m.getCopyWrites());
            row.put("llc_hit_rate", m.getLlcHitRate());
            row.put("die_balance", m.getDieBalance());
            row.put("link_bytes", m.getLinkBytes());
            row.put("max_pass_link_bytes", m.getMaxPassLinkBytes());
            row.put("last_pass_id", m.getLastPassId());
            row.put("prefetch_used", m.getPrefetchUsed());
            row.put("prefetch_late", m.getPrefetchLate());
            row.put("prefetch_unknown", m.getPrefetchUnknown());
            row.put("prefetch_expired", m.getPrefetchExpired());
            t.put(key, row);
        });
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("mesh", mesh);
        Map<String, Object> prefetch = new LinkedHashMap<>();
        prefetch.put("source", prefetchSource);
        prefetch.put("unknown_model_commands", unknownModelCommands.get());
        out.put("prefetch", prefetch);
        out.put("totals", t);
        out.put("last_pass", new TreeMap<>(lastPass));
        return out;
    }
}
