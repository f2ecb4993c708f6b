package io.expertcast.core.wafer;

import java.util.Arrays;

/**
 * Where the Pred policies' copy decisions come from: the predictor's commands on moe.prefetch (the
 * service's default: the controller drives the wafer, as in the paper's PDU/ATU), or the core's
 * token-level heatmap run inside the emulator (the offline {@code simulate}, and the service's
 * explicitly chosen alternative).
 */
public enum PrefetchSource {
    TOPIC("topic"),
    IN_PROCESS("in-process");

    private final String label;

    PrefetchSource(String label) {
        this.label = label;
    }

    /** The name used on the command line and in /metrics. */
    public String label() {
        return label;
    }

    /** The source of this command-line name. */
    public static PrefetchSource of(String label) {
        return Arrays.stream(values()).filter(s -> s.label.equals(label)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown prefetch source '" + label
                        + "', known: topic, in-process"));
    }

    @Override
    public String toString() {
        return label;
    }
}
