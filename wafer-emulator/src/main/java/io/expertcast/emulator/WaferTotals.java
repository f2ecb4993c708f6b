package io.expertcast.emulator;

import io.expertcast.schemas.WaferMetrics;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Adds each pass's per-policy delta to the cumulative totals of its model/policy key (a RocksDB
 * store, so totals survive a restart) and forwards the updated totals. Observes only.
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
        WaferMetrics t = totals.get(record.key());
        if (t == null) {
            t = WaferMetrics.newBuilder(d).setPasses(0).setTokens(0).setMoeTimeNs(0).setHops(0).setLocalReads(0)
                    .setRemoteReads(0).setCopyWrites(0).setLastPassId(-1).build();
        }
        t.setPasses(t.getPasses() + d.getPasses());
        t.setTokens(t.getTokens() + d.getTokens());
        t.setMoeTimeNs(t.getMoeTimeNs() + d.getMoeTimeNs());
        t.setHops(t.getHops() + d.getHops());
        t.setLocalReads(t.getLocalReads() + d.getLocalReads());
        t.setRemoteReads(t.getRemoteReads() + d.getRemoteReads());
        t.setCopyWrites(t.getCopyWrites() + d.getCopyWrites());
        t.setLastPassId(Math.max(t.getLastPassId(), d.getLastPassId()));
        t.setThroughputTokensPerS(t.getMoeTimeNs() > 0 ? t.getTokens() / (t.getMoeTimeNs() * 1e-9) : 0);
        t.setEventTimeMs(d.getEventTimeMs());
        totals.put(record.key(), t);
        context.forward(record.withValue(t));
    }
}
