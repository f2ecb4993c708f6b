package io.expertcast.core.wafer;

import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;

/** The machine a pass runs on: hardware, mesh, cost model and the expert distribution table. */
public record WaferContext(HardwareConfig hardware, Mesh mesh, DieCostModel cost, ExpertDistributionTable table) {

    /** A wafer holding {@code model}'s experts in the even, EP-like initial placement. */
    public static WaferContext even(HardwareConfig hardware, ModelShape model) {
        return new WaferContext(hardware, Mesh.of(hardware), new DieCostModel(hardware),
                ExpertDistributionTable.even(model, hardware.dies()));
    }
}
