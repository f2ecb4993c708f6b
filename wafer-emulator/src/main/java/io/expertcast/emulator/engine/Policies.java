package io.expertcast.emulator.engine;

import java.util.List;

/** Policy names, as used on moe.wafer-metrics and on the command line. */
public final class Policies {
    public static final String BASE = "base";
    public static final String EP = "ep";
    public static final String ALLO = "allo";
    public static final List<String> ALL = List.of(BASE, EP, ALLO);

    private Policies() {
    }

    /** The policy of this name; {@code allo} needs the pass's plans. */
    public static Policy of(String name, List<int[][]> plansByLayer) {
        return switch (name) {
            case BASE -> new BasePolicy();
            case EP -> new ExpertParallelPolicy();
            case ALLO -> new ControllerPlanPolicy(plansByLayer);
            default -> throw new IllegalArgumentException("unknown policy '" + name + "', known: " + ALL);
        };
    }
}
