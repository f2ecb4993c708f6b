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
    ALL,
    /**
     * The request side: selections in; forecasts, prefetch commands, accuracy and heatmap lessons out. Keeps the
     * predictor's application id, so switching an instance from {@link #ALL} keeps its state and offsets.
     */
    REQUESTS,
    /**
     * The heatmap aggregator: lessons in; moe.heatmaps and moe.prediction-tables out. An application of its own
     * (id: the predictor's + {@value #HEATMAPS_SUFFIX}), which restores from the published snapshots and counts
     * every lesson they do not hold, so it can take over from {@link #ALL} and hand back to it.
     */
    HEATMAPS;

    static final String HEATMAPS_SUFFIX = "-heatmaps";

    /** The role's name on the command line: all, requests, heatmaps. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The role named {@code label}; an {@link IllegalArgumentException} naming the roles if none. */
    public static PredictorRole of(String label) {
        try {
            return valueOf(label.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown predictor role '" + label + "'; one of "
                    + Arrays.stream(values()).map(PredictorRole::label).collect(Collectors.joining(", ")), e);
        }
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
