package io.expertcast.emulator;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.emulator.engine.Policies;
import java.util.List;

/**
 * What the emulator needs: models, the wafer, the policies to run side by side, its name, and the
 * predictor's n (top-n successors per selected expert, Pred policies).
 */
public record EmulatorSettings(ModelCatalog catalog, HardwareConfig hardware, List<String> policies,
                               String applicationName, int predictN) {
    public static final String DEFAULT_APPLICATION_ID = "expertcast-emulator";
    /** The paper does not publish n; 4 successors per selected expert (see docs/reproduction.md). */
    public static final int DEFAULT_PREDICT_N = 4;

    public EmulatorSettings {
        for (String p : policies) {
            Policies.of(p, List.of()); // rejects an unknown name now, not at the first pass
        }
        if (predictN <= 0) {
            throw new IllegalArgumentException("the predictor's n must be positive, got " + predictN);
        }
        policies = List.copyOf(policies);
    }

    public EmulatorSettings(ModelCatalog catalog, HardwareConfig hardware, List<String> policies, String applicationName) {
        this(catalog, hardware, policies, applicationName, DEFAULT_PREDICT_N);
    }

    public static EmulatorSettings defaults() {
        return new EmulatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"), Policies.ALL,
                DEFAULT_APPLICATION_ID);
    }

    public EmulatorSettings withApplicationName(String name) {
        return new EmulatorSettings(catalog, hardware, policies, name, predictN);
    }

    public boolean needsPlans() {
        return policies.stream().anyMatch(Policies::needsPlans);
    }

    public boolean needsPrediction() {
        return policies.stream().anyMatch(Policies::needsPrediction);
    }
}
