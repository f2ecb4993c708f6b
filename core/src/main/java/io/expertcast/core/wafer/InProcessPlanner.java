package io.expertcast.core.wafer;

import io.expertcast.core.allocation.AllocationResult;
import io.expertcast.core.allocation.TaskAllocator;
import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Algorithm 1 run in-process for the offline simulation: the same core {@link TaskAllocator}, cost
 * model and even distribution table the stream allocator uses, called the same way (one call per
 * MoE layer with the pass's tokens per expert), so its plans equal the ones on moe.allocations.
 */
public final class InProcessPlanner {
    private final HardwareConfig hardware;
    private final TaskAllocator allocator;
    private final Map<String, ExpertDistributionTable> tables = new HashMap<>();

    public InProcessPlanner(HardwareConfig hardware) {
        this.hardware = hardware;
        this.allocator = new TaskAllocator(Mesh.of(hardware), new DieCostModel(hardware));
    }

    /** Per MoE layer, the plan's {expert, die, tokens} triples. */
    public List<int[][]> plan(PassWorkload pass) {
        ModelShape model = pass.model();
        ExpertDistributionTable table = tables.computeIfAbsent(model.id(),
                id -> ExpertDistributionTable.even(model, hardware.dies()));
        List<int[][]> plans = new ArrayList<>(model.numMoeLayers());
        for (int layer = 0; layer < model.numMoeLayers(); layer++) {
            AllocationResult r = allocator.allocate(model, table, layer, pass.tokensPerExpert(layer));
            int[][] triples = new int[r.size()][];
            for (int i = 0; i < r.size(); i++) {
                triples[i] = new int[] {r.expert(i), r.die(i), r.tokens(i)};
            }
            plans.add(triples);
        }
        return plans;
    }
}
