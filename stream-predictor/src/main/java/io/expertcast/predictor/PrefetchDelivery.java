package io.expertcast.predictor;

import java.util.Arrays;
import java.util.Map;

/**
 * How the predictor's prefetch commands reach moe.prefetch. A prefetch is advisory: a duplicate is harmless
 * (the wafer copies an expert it already holds), a late one is worthless (its decode step has run). So the
 * commands need not ride in the exactly-once transaction that protects what must not be counted twice
 * (accuracy, heatmaps, the request state):
 * <ul>
 *   <li>{@link #IMMEDIATE}: sent the moment they are decided, by a producer of their own
 *       ({@link ImmediatePrefetchSender}), at least once: after a crash the records processed since the
 *       last commit are processed again and their commands sent again. Readers should read them
 *       read_uncommitted (or read_committed: nothing transactional is on the topic, so both see a command
 *       as soon as it is appended).</li>
 *   <li>{@link #TRANSACTIONAL}: forwarded inside the Streams transaction, exactly once; a read_committed
 *       reader sees a command only when its transaction commits (every commit interval), and a
 *       read_uncommitted reader may see commands of a transaction that is later aborted.</li>
 * </ul>
 * Chosen per application by the Streams property {@value #CONFIG}; without it, {@link #TRANSACTIONAL}
 * (the library default, which topology tests read); {@code bin/expertcast predictor} defaults to
 * {@link #IMMEDIATE}.
 */
public enum PrefetchDelivery {
    IMMEDIATE("immediate"),
    TRANSACTIONAL("transactional");

    /** The Streams property that chooses it (an {@code expertcast.*} key: Streams passes it through). */
    public static final String CONFIG = "expertcast.prefetch.delivery";

    private final String label;

    PrefetchDelivery(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** The delivery named {@code label} ({@code immediate}, {@code transactional}). */
    public static PrefetchDelivery of(String label) {
        return Arrays.stream(values()).filter(d -> d.label.equals(label)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown prefetch delivery '" + label
                        + "', known: immediate, transactional"));
    }

    /** The delivery an application's configuration asks for. */
    static PrefetchDelivery of(Map<String, Object> appConfigs) {
        Object v = appConfigs.get(CONFIG);
        return v == null ? TRANSACTIONAL : of(v.toString());
    }

    @Override
    public String toString() {
        return label;
    }
}
