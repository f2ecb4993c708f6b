package io.expertcast.core.wafer;

import java.util.List;

/** Policy names, as used on moe.wafer-metrics and on the command line. */
public final class Policies {
    public static final String BASE = "base";
    public static final String EP = "ep";
    public static final String ALLO = "allo";
    public static final String PRED = "pred";
    public static final String ALLO_PRED = "allo+pred";
    public static final List<String> ALL = List.of(BASE, EP, ALLO, PRED, ALLO_PRED);

    private Policies() {
    }

    /** The policy of this name; {@code allo} and {@code allo+pred} need the pass's plans. */
    public static Policy of(String name, List<int[][]> plansByLayer) {
        return switch (name) {
            case BASE -> new BasePolicy();
            case EP -> new ExpertParallelPolicy();
            case ALLO -> new ControllerPlanPolicy(ALLO, plansByLayer);
            case PRED -> new CopyOnReadPolicy(PRED, new BasePolicy());
            case ALLO_PRED -> new CopyOnReadPolicy(ALLO_PRED, new ControllerPlanPolicy(ALLO_PRED, plansByLayer));
            default -> throw new IllegalArgumentException("unknown policy '" + name + "', known: " + ALL);
        };
    }

    /** Whether the policy executes the allocator's plans. */
    public static boolean needsPlans(String name) {
        return name.equals(ALLO) || name.equals(ALLO_PRED);
    }

    /** Whether the policy needs the predictor's forecast. */
    public static boolean needsPrediction(String name) {
        return name.equals(PRED) || name.equals(ALLO_PRED);
    }
}
