package io.expertcast.emulator;

import io.expertcast.core.wafer.PolicyTotals;
import io.expertcast.core.wafer.PrefetchCounts;
import io.expertcast.schemas.WaferMetrics;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Adds each pass's per-policy delta to the cumulative totals of its model/policy key (model/source/policy
 * for a named source: each source's wafer is counted apart) (a RocksDB
 * store, so totals survive a restart) and forwards the updated totals. The sums are
 * {@link PolicyTotals}' and {@link PrefetchCounts}'; this class only maps them to and from the record
 * on moe.wafer-metrics.
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
        PrefetchCounts prefetch = before == null ? prefetch(d) : prefetch(before).plus(prefetch(d));
        WaferMetrics t = WaferMetrics.newBuilder(metrics(d.getModel(), d.getMesh(), sum, prefetch))
                .setSource(d.getSource())
                .setLastPassId(before == null ? d.getLastPassId() : Math.max(before.getLastPassId(), d.getLastPassId()))
                .setEventTimeMs(d.getEventTimeMs())
                .build();
        totals.put(record.key(), t);
        context.forward(record.withValue(t));
    }

    static PolicyTotals totals(WaferMetrics m) {
        return new PolicyTotals(m.getPolicy(), m.getPasses(), m.getTokens(), m.getMoeTimeNs(), m.getMeanDieNs(),
                m.getHops(), m.getReads(), m.getLocalReads(), m.getRemoteReads(), m.getCopyReads(), m.getCopyWrites(),
                m.getLlcHits(), m.getLinkBytes(), m.getMaxPassLinkBytes(), 0); // the schema carries no bound
    }

    static PrefetchCounts prefetch(WaferMetrics m) {
        return new PrefetchCounts(m.getPrefetchUsed(), m.getPrefetchLate(), m.getPrefetchUnknown(),
                m.getPrefetchExpired());
    }

    /** The record of some totals (last pass id and event time left 0 for the caller). */
    static WaferMetrics metrics(String model, String mesh, PolicyTotals t, PrefetchCounts prefetch) {
        return WaferMetrics.newBuilder().setModel(model).setMesh(mesh).setPolicy(t.policy())
                .setPasses(t.passes()).setTokens(t.tokens()).setMoeTimeNs(t.moeNs())
                .setThroughputTokensPerS(t.throughputTokensPerS()).setHops(t.hops())
                .setLocalReads(t.localReads()).setRemoteReads(t.remoteReads()).setCopyWrites(t.copyWrites())
                .setMeanDieNs(t.meanDieNs()).setDieBalance(t.dieBalance()).setReads(t.reads())
                .setCopyReads(t.copyReads()).setLlcHits(t.llcHits()).setLlcHitRate(t.llcHitRate())
                .setLinkBytes(t.linkBytes()).setMaxPassLinkBytes(t.maxPassLinkBytes())
                .setPrefetchUsed(prefetch.used()).setPrefetchLate(prefetch.late())
                .setPrefetchUnknown(prefetch.unknown()).setPrefetchExpired(prefetch.expired())
                .setLastPassId(0).setEventTimeMs(0).build();
    }

    /**
     * A delta for moe.wafer-metrics: one pass's totals and what became of prefetch commands, or (no
     * pass, {@code passId} -1, empty totals) only the latter, when a command is late or unknown on arrival.
     */
    static WaferMetrics delta(String model, String source, String mesh, long passId, long eventTimeMs,
                              PolicyTotals pass, PrefetchCounts prefetch) {
        return WaferMetrics.newBuilder(metrics(model, mesh, pass, prefetch)).setLastPassId(passId)
                .setEventTimeMs(eventTimeMs).setSource(source).build();
    }

    /** Key of a source's totals under a policy: {@code model/policy}, or {@code model/source/policy}. */
    static String key(WaferMetrics m) {
        return m.getSource().isEmpty() ? m.getModel() + "/" + m.getPolicy()
                : m.getModel() + "/" + m.getSource() + "/" + m.getPolicy();
    }
}
