package io.expertcast.offline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.wafer.Policies;
import io.expertcast.core.wafer.PolicyTotals;
import io.expertcast.core.trace.source.SyntheticSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A few cells of the reproduction sweep (docs/reproduction.md), short runs: the allocator must never
 * be slower than EP, the plan it may always choose (the issue-5 cost lost to EP by 16-18 % at batch
 * 4096 on DeepSeek-V3 and Llama-4), Allo+Pred never slower than Allo, and no policy below the lower bound.
 */
class AlloNeverLosesToEpTest {

    private static void check(ModelShape model, String mesh, List<Integer> batches, int requests, int passes) {
        ModelCatalog catalog = ModelCatalog.standard();
        Simulation.Result result = new Simulation(catalog, List.of(Policies.EP, Policies.ALLO, Policies.ALLO_PRED), 4,
                passes).run(List.of(HardwareConfig.load(mesh)), batches, () -> new SyntheticSource(model, requests, 1));
        Map<String, PolicyTotals> cell = new HashMap<>();
        for (int batch : batches) {
            for (Simulation.Row row : result.rows()) {
                if (row.batch() == batch) {
                    cell.put(row.policy(), row.totals());
                    assertTrue(row.totals().timeOverBound() >= 1, row + " below its bound");
                }
            }
            assertEquals(3, cell.size());
            double ep = cell.get(Policies.EP).throughputTokensPerS();
            double allo = cell.get(Policies.ALLO).throughputTokensPerS();
            double alloPred = cell.get(Policies.ALLO_PRED).throughputTokensPerS();
            String where = model.id() + " " + mesh + " batch " + batch + ": EP " + ep + ", Allo " + allo
                    + ", Allo+Pred " + alloPred + " tokens/s";
            assertTrue(allo >= 0.99 * ep, where);
            assertTrue(alloPred >= 0.99 * allo, where);
            cell.clear();
        }
    }

    @Test
    void deepSeekOnTheFiveByFiveMesh() {
        check(ModelCatalog.DEEPSEEK_V3, "dojo-5x5", List.of(4096), 4096, 3);
    }

    @Test
    void llama4OnTheEightByThreeMeshMemoryAndComputeBound() {
        check(ModelCatalog.LLAMA4_MAVERICK, "tsmc-sow-8x3", List.of(4096, 16384), 16384, 3);
    }
}
