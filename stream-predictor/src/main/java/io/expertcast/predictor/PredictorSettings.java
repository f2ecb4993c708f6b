package io.expertcast.predictor;

import io.expertcast.core.model.ModelCatalog;
import java.time.Duration;
import java.util.Objects;

/**
 * What the predictor topology needs to be built: the models it accepts, how many experts it predicts
 * per layer, how often it publishes accuracy, its application name (used as the Kafka Streams
 * application id and on its dead letters), how long a request may go without a step before its state
 * is dropped (a request whose last step never comes must not stay in the store for ever), and the
 * global heatmaps' settings (Insight 2):
 *
 * @param heatmapHalfLifeTokens decay of the token->token and layer->layer counts, in tokens of the model
 *                              (0 = no decay)
 * @param heatmapPublishInterval how often changed heatmaps go to moe.heatmaps / moe.prediction-tables
 *                               (ZERO = after every update: deterministic, for tests)
 * @param tableWidth             successors per row of a published prediction table
 * @param heatmapSnapshotInterval how often a changed layer's whole transition tables go to moe.heatmaps; between
 *                               them each publication carries only the tables' top rows (what the next-token
 *                               prediction and the prediction tables read). A restart restores the counts from
 *                               the whole tables, so it loses at most this interval of counts (ZERO or anything
 *                               up to the publish interval, or a publish interval of ZERO: whole tables at every
 *                               publication)
 * @param heatmapShards          how many keys a model's MoE layers are spread over for the heatmaps (layer l
 *                               goes to key model/(l mod shards)); the model's layer count gives one key per
 *                               (model, layer), fewer cuts the records per event at the price of bigger keys
 * @param role                   which part of the predictor the application runs ({@link PredictorRole}); its
 *                               application id is {@code role.applicationId(applicationName)}
 */
public record PredictorSettings(ModelCatalog catalog, int n, Duration publishInterval, String applicationName,
                                Duration requestIdleTimeout, double heatmapHalfLifeTokens,
                                Duration heatmapPublishInterval, int tableWidth,
                                int heatmapShards, Duration heatmapSnapshotInterval, PredictorRole role) {

    public static final int DEFAULT_N = 8;
    public static final Duration DEFAULT_PUBLISH_INTERVAL = Duration.ofMillis(1000);
    public static final String DEFAULT_APPLICATION = "expertcast-predictor";
    public static final Duration DEFAULT_REQUEST_IDLE_TIMEOUT = Duration.ofMinutes(10);
    public static final double DEFAULT_HEATMAP_HALF_LIFE_TOKENS = 50_000;
    /**
     * A dense DeepSeek-V3 publication is 58 layers x 2 kinds x ~650 KB: every 5 s that is ~15 MB/s on
     * moe.heatmaps (and as much for each instance's global store to read), against 75 MB/s every second;
     * the tables it feeds change with a half-life of {@value #DEFAULT_HEATMAP_HALF_LIFE_TOKENS} tokens.
     */
    public static final Duration DEFAULT_HEATMAP_PUBLISH_INTERVAL = Duration.ofSeconds(5);
    public static final int DEFAULT_HEATMAP_SHARDS = 4;
    /**
     * Whole tables of a DeepSeek-V3 layer are ~1.3 MB (two kinds), its top rows ~0.2 MB: whole tables every
     * minute and top rows every 5 s cut moe.heatmaps from ~15 MB/s to ~3 MB/s.
     */
    public static final Duration DEFAULT_HEATMAP_SNAPSHOT_INTERVAL = Duration.ofSeconds(60);

    public PredictorSettings {
        Objects.requireNonNull(catalog, "catalog");
        Objects.requireNonNull(publishInterval, "publishInterval");
        if (n <= 0) {
            throw new IllegalArgumentException("n must be positive, got " + n);
        }
        if (publishInterval.isNegative() || publishInterval.isZero()) {
            throw new IllegalArgumentException("publish interval must be positive, got " + publishInterval);
        }
        if (applicationName == null || applicationName.isBlank()) {
            throw new IllegalArgumentException("application name is empty");
        }
        Objects.requireNonNull(requestIdleTimeout, "requestIdleTimeout");
        if (requestIdleTimeout.isNegative() || requestIdleTimeout.isZero()) {
            throw new IllegalArgumentException("request idle timeout must be positive, got " + requestIdleTimeout);
        }
        if (!(heatmapHalfLifeTokens >= 0)) {
            throw new IllegalArgumentException("heatmap half-life must be >= 0 tokens (0 = no decay), got "
                    + heatmapHalfLifeTokens);
        }
        Objects.requireNonNull(heatmapPublishInterval, "heatmapPublishInterval");
        if (heatmapPublishInterval.isNegative()) {
            throw new IllegalArgumentException("heatmap publish interval must be >= 0");
        }
        Objects.requireNonNull(heatmapSnapshotInterval, "heatmapSnapshotInterval");
        if (heatmapSnapshotInterval.isNegative()) {
            throw new IllegalArgumentException("heatmap snapshot interval must be >= 0");
        }
        if (heatmapShards <= 0) {
            throw new IllegalArgumentException("heatmap shards must be positive, got " + heatmapShards);
        }
        if (tableWidth <= 0) {
            throw new IllegalArgumentException("table width must be positive, got " + tableWidth);
        }
        Objects.requireNonNull(role, "role");
    }

    /** With the default idle timeout and heatmap settings. */
    public PredictorSettings(ModelCatalog catalog, int n, Duration publishInterval, String applicationName) {
        this(catalog, n, publishInterval, applicationName, DEFAULT_REQUEST_IDLE_TIMEOUT);
    }

    /** With the default heatmap settings. */
    public PredictorSettings(ModelCatalog catalog, int n, Duration publishInterval, String applicationName,
                             Duration requestIdleTimeout) {
        this(catalog, n, publishInterval, applicationName, requestIdleTimeout, DEFAULT_HEATMAP_HALF_LIFE_TOKENS,
                DEFAULT_HEATMAP_PUBLISH_INTERVAL, n, DEFAULT_HEATMAP_SHARDS,
                DEFAULT_HEATMAP_SNAPSHOT_INTERVAL, PredictorRole.ALL);
    }

    /** The standard catalog, n = 8, publish every second, application {@value #DEFAULT_APPLICATION}. */
    public static PredictorSettings defaults() {
        return new PredictorSettings(ModelCatalog.standard(), DEFAULT_N, DEFAULT_PUBLISH_INTERVAL,
                DEFAULT_APPLICATION);
    }

    public PredictorSettings withCatalog(ModelCatalog value) {
        return new PredictorSettings(value, n, publishInterval, applicationName, requestIdleTimeout,
                heatmapHalfLifeTokens, heatmapPublishInterval, tableWidth, heatmapShards, heatmapSnapshotInterval, role);
    }

    public PredictorSettings withN(int value) {
        return new PredictorSettings(catalog, value, publishInterval, applicationName, requestIdleTimeout,
                heatmapHalfLifeTokens, heatmapPublishInterval, tableWidth, heatmapShards, heatmapSnapshotInterval, role);
    }

    public PredictorSettings withPublishInterval(Duration value) {
        return new PredictorSettings(catalog, n, value, applicationName, requestIdleTimeout,
                heatmapHalfLifeTokens, heatmapPublishInterval, tableWidth, heatmapShards, heatmapSnapshotInterval, role);
    }

    public PredictorSettings withApplicationName(String value) {
        return new PredictorSettings(catalog, n, publishInterval, value, requestIdleTimeout,
                heatmapHalfLifeTokens, heatmapPublishInterval, tableWidth, heatmapShards, heatmapSnapshotInterval, role);
    }

    public PredictorSettings withRequestIdleTimeout(Duration value) {
        return new PredictorSettings(catalog, n, publishInterval, applicationName, value,
                heatmapHalfLifeTokens, heatmapPublishInterval, tableWidth, heatmapShards, heatmapSnapshotInterval, role);
    }

    public PredictorSettings withHeatmapHalfLifeTokens(double value) {
        return new PredictorSettings(catalog, n, publishInterval, applicationName, requestIdleTimeout,
                value, heatmapPublishInterval, tableWidth, heatmapShards, heatmapSnapshotInterval, role);
    }

    public PredictorSettings withHeatmapPublishInterval(Duration value) {
        return new PredictorSettings(catalog, n, publishInterval, applicationName, requestIdleTimeout,
                heatmapHalfLifeTokens, value, tableWidth, heatmapShards, heatmapSnapshotInterval, role);
    }

    public PredictorSettings withTableWidth(int value) {
        return new PredictorSettings(catalog, n, publishInterval, applicationName, requestIdleTimeout,
                heatmapHalfLifeTokens, heatmapPublishInterval, value, heatmapShards, heatmapSnapshotInterval, role);
    }

    public PredictorSettings withHeatmapShards(int value) {
        return new PredictorSettings(catalog, n, publishInterval, applicationName, requestIdleTimeout,
                heatmapHalfLifeTokens, heatmapPublishInterval, tableWidth, value, heatmapSnapshotInterval, role);
    }

    public PredictorSettings withHeatmapSnapshotInterval(Duration value) {
        return new PredictorSettings(catalog, n, publishInterval, applicationName, requestIdleTimeout,
                heatmapHalfLifeTokens, heatmapPublishInterval, tableWidth, heatmapShards, value, role);
    }

    public PredictorSettings withRole(PredictorRole value) {
        return new PredictorSettings(catalog, n, publishInterval, applicationName, requestIdleTimeout,
                heatmapHalfLifeTokens, heatmapPublishInterval, tableWidth, heatmapShards, heatmapSnapshotInterval,
                value);
    }

    /** The Kafka Streams application id: the application name, with the role's suffix ({@link PredictorRole}). */
    public String applicationId() {
        return role.applicationId(applicationName);
    }

    /**
     * Whether whole tables go out at every publication: publication after every update (deterministic, for
     * tests), or a snapshot interval not longer than the publication's.
     */
    public boolean wholeTablesEveryPublication() {
        return heatmapPublishInterval.isZero() || heatmapSnapshotInterval.compareTo(heatmapPublishInterval) <= 0;
    }
}
