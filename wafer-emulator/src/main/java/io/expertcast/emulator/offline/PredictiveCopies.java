package io.expertcast.emulator.offline;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.emulator.engine.LayerWork;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The paper's Pred mechanism (PDU/ATU, Insights 1-2): when a die reads an expert remotely and the
 * predictor named that expert for this step, the die keeps a copy in its local HBM on the way back
 * (cp_en), and later reads of it are local (the ATU redirects them). Copies live within the die's
 * usable HBM next to its home experts; when it is full the least recently used copy is evicted
 * (home copies never are).
 */
final class PredictiveCopies {
    private final ModelShape model;
    private final ExpertDistributionTable table;
    private final int capacityCopies[];
    private final Map<Integer, Long>[] lru; // per die: (layer x E + expert) -> last pass used, access order
    private long copiesMade;
    private long evictions;

    @SuppressWarnings("unchecked")
    PredictiveCopies(ModelShape model, ExpertDistributionTable table, long usableHbmBytes) {
        this.model = model;
        this.table = table;
        int dies = table.dies();
        this.capacityCopies = new int[dies];
        this.lru = new Map[dies];
        long[] homes = new long[dies];
        for (int l = 0; l < model.numMoeLayers(); l++) {
            for (int e = 0; e < model.numExperts(); e++) {
                homes[table.homeDie(l, e)]++;
            }
        }
        for (int d = 0; d < dies; d++) {
            long free = usableHbmBytes - homes[d] * model.expertBytes();
            capacityCopies[d] = (int) Math.max(0, free / model.expertBytes());
            lru[d] = new LinkedHashMap<>(16, 0.75f, true);
        }
    }

    /** After a pass: copy-on-read of predicted experts read remotely; refresh the copies read locally. */
    void afterLayer(int layer, LayerWork work, boolean[] predicted, long pass) {
        int experts = model.numExperts();
        for (int d = 0; d < work.dies(); d++) {
            for (int e = 0; e < experts; e++) {
                if (work.tokens(d, e) == 0) {
                    continue;
                }
                int key = layer * experts + e;
                if (table.holds(layer, e, d)) {
                    lru[d].computeIfPresent(key, (k, v) -> pass); // a copy (not a home) read again
                } else if (predicted[e] && capacityCopies[d] > 0) {
                    if (lru[d].size() >= capacityCopies[d]) {
                        Iterator<Map.Entry<Integer, Long>> oldest = lru[d].entrySet().iterator();
                        int victim = oldest.next().getKey();
                        oldest.remove();
                        table.evict(victim / experts, victim % experts, d);
                        evictions++;
                    }
                    table.replicate(layer, e, d);
                    lru[d].put(key, pass);
                    copiesMade++;
                }
            }
        }
    }

    long copiesMade() {
        return copiesMade;
    }

    long evictions() {
        return evictions;
    }
}
