package io.expertcast.predictor;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Which part of the predictor an application runs. The two parts meet only on topics (moe.heatmap-lessons one
 * way, moe.heatmaps the other), so they can run as two Kafka Streams applications, on other cores or machines,
 * scaled and restarted apart: the request side's work grows with the decode events, the aggregator's counting
 * with the tokens of every request.
 */
public enum PredictorRole {
    /** Both parts in one application (the default). */
    ALL("all"),
    /**
     * The request side: selections in; forecasts, prefetch commands, accuracy and heatmap lessons out. Keeps the
     * predictor's application id, so switching an instance from {@link #ALL} keeps its state and offsets.
     */
    REQUESTS("requests"),
    /**
     * The heatmap aggregator: lessons in; moe.heatmaps and moe.prediction-tables out. An application of its own
     * (id: the predictor's + {@value #HEATMAPS_SUFFIX}), which restores from the published snapshots and counts
     * every lesson they do not hold, so it can take over from {@link #ALL} and hand back to it.
     */
    HEATMAPS("heatmaps");

    static final String HEATMAPS_SUFFIX = "-heatmaps";

    private final String label;

    PredictorRole(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** The role named {@code label} (all, requests, heatmaps); an {@link IllegalArgumentException} naming them if none. */
    public static PredictorRole of(String label) {
        for (PredictorRole r : values()) {
            if (r.label.equals(label.toLowerCase(Locale.ROOT))) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown predictor role '" + label + "'; one of "
                + Arrays.stream(values()).map(PredictorRole::label).collect(Collectors.joining(", ")));
    }

    /** The Kafka Streams application id of this role for a predictor named {@code applicationName}. */
    public String applicationId(String applicationName) {
        return this == HEATMAPS ? applicationName + HEATMAPS_SUFFIX : applicationName;
    }

    boolean runsRequests() {
        return this != HEATMAPS;
    }

    boolean runsHeatmaps() {
        return this != REQUESTS;
    }
}
