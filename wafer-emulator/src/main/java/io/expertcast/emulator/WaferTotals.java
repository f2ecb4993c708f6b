package io.expertcast.emulator;

import io.expertcast.emulator.engine.PolicyTotals;
import io.expertcast.schemas.WaferMetrics;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Adds each pass's per-policy delta to the cumulative totals of its model/policy key (a RocksDB
 * store, so totals survive a restart) and forwards the updated totals. The sums are
 * {@link PolicyTotals}'; this class only maps them to and from the record on moe.wafer-metrics.
 */
final class WaferTotals implements Processor<String, WaferMetrics, String, WaferMetrics> {
    static final String STORE = "emulator-wafer-totals";
    private KeyValueStore<String, WaferMetrics> totals;
    private ProcessorContext<String, WaferMetrics> context;

    @Override
    public void init(ProcessorContext<String, WaferMetrics> context) {
        this.context = context;
        this.totals = context.getStateStore(STORE);
    }

    @Override
    public void process(Record<String, WaferMetrics> record) {
        WaferMetrics d = record.value();
        WaferMetrics before = totals.get(record.key());
        PolicyTotals sum = before == null ? totals(d) : totals(before).plus(totals(d));
        WaferMetrics t = WaferMetrics.newBuilder(d)
                .setPasses(sum.passes()).setTokens(sum.tokens()).setMoeTimeNs(sum.moeNs())
                .setThroughputTokensPerS(sum.throughputTokensPerS()).setHops(sum.hops())
                .setLocalReads(sum.localReads()).setRemoteReads(sum.remoteReads())
                .setCopyWrites((before == null ? 0 : before.getCopyWrites()) + d.getCopyWrites())
                .setLastPassId(before == null ? d.getLastPassId() : Math.max(before.getLastPassId(), d.getLastPassId()))
                .build();
        totals.put(record.key(), t);
        context.forward(record.withValue(t));
    }

    static PolicyTotals totals(WaferMetrics m) {
        return new PolicyTotals(m.getPolicy(), m.getPasses(), m.getTokens(), m.getMoeTimeNs(), m.getHops(),
                m.getLocalReads(), m.getRemoteReads());
    }

    /** A one-pass delta for moe.wafer-metrics (throughput filled in by the totals). */
    static WaferMetrics delta(String model, String mesh, long passId, long eventTimeMs, PolicyTotals pass) {
        return WaferMetrics.newBuilder().setModel(model).setMesh(mesh).setPolicy(pass.policy())
                .setPasses(pass.passes()).setTokens(pass.tokens()).setMoeTimeNs(pass.moeNs())
                .setThroughputTokensPerS(pass.throughputTokensPerS()).setHops(pass.hops())
                .setLocalReads(pass.localReads()).setRemoteReads(pass.remoteReads()).setCopyWrites(0)
                .setLastPassId(passId).setEventTimeMs(eventTimeMs).build();
    }
}
