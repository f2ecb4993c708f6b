package io.expertcast.emulator;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.emulator.engine.Policies;
import java.util.List;

/** What the emulator service needs: models, the wafer, the policies to run side by side, its name. */
public record EmulatorSettings(ModelCatalog catalog, HardwareConfig hardware, List<String> policies,
                               String applicationName) {
    public static final String DEFAULT_APPLICATION_ID = "expertcast-emulator";

    public EmulatorSettings {
        for (String p : policies) {
            Policies.of(p, List.of()); // rejects an unknown name now, not at the first pass
        }
        policies = List.copyOf(policies);
    }

    public static EmulatorSettings defaults() {
        return new EmulatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"), Policies.ALL,
                DEFAULT_APPLICATION_ID);
    }

    public EmulatorSettings withApplicationName(String name) {
        return new EmulatorSettings(catalog, hardware, policies, name);
    }
}
