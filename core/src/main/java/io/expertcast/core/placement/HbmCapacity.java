package io.expertcast.core.placement;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelShape;

/**
 * How many expert copies a die's HBM holds (Table I: 80 GB, 10 % reserved), so replication
 * (Insight 4) never places more than fits. DeepSeek-V3 on dojo-5x5: 72 GB / (88 MB x 58 MoE layers)
 * = 14 copies per layer per die, 350 slots per layer for 256 experts.
 */
public final class HbmCapacity {
    private HbmCapacity() {
    }

    /** Copies of one MoE layer's experts a die holds when every MoE layer gets the same share of HBM. */
    public static int slotsPerDiePerLayer(HardwareConfig hw, ModelShape model) {
        return (int) (hw.usableHbmBytes() / (model.expertBytes() * (long) model.numMoeLayers()));
    }

    /** Expert copies a die holds in all. */
    public static long copiesPerDie(HardwareConfig hw, ModelShape model) {
        return hw.usableHbmBytes() / model.expertBytes();
    }

    /** Redundant experts per layer the wafer has room for (all slots of every die filled). */
    public static int redundantPerLayer(HardwareConfig hw, ModelShape model) {
        return Math.max(0, slotsPerDiePerLayer(hw, model) * hw.dies() - model.numExperts());
    }

    /** IllegalArgumentException naming the first die whose copies exceed its usable HBM. */
    public static void check(ExpertDistributionTable table, ModelShape model, HardwareConfig hw) {
        long limit = copiesPerDie(hw, model);
        for (int die = 0; die < table.dies(); die++) {
            int copies = table.copiesOnDie(die);
            if (copies > limit) {
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                        "die %d would hold %d copies of %s experts (%.1f GB), beyond its usable HBM of %.1f GB (%d copies)",
                        die, copies, model.id(), copies * (double) model.expertBytes() / 1e9,
                        hw.usableHbmBytes() / 1e9, limit));
            }
        }
    }
}
