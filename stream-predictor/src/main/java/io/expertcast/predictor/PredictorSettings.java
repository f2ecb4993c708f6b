package io.expertcast.predictor;

import io.expertcast.core.model.ModelCatalog;
import java.time.Duration;
import java.util.Objects;

/**
 * What the predictor topology needs to be built: the models it accepts, how many experts it plans
 * per layer, how often it publishes accuracy, its application name (used as the Kafka Streams
 * application id and on its dead letters), and how long a request may go without a step before its
 * state is dropped (a request whose last step never comes must not stay in the store for ever).
 */
public record PredictorSettings(ModelCatalog catalog, int n, Duration publishInterval, String applicationName,
                                Duration requestIdleTimeout) {

    public static final int DEFAULT_N = 8;
    public static final Duration DEFAULT_PUBLISH_INTERVAL = Duration.ofMillis(1000);
    public static final String DEFAULT_APPLICATION = "expertcast-predictor";
    public static final Duration DEFAULT_REQUEST_IDLE_TIMEOUT = Duration.ofMinutes(10);

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
    }

    /** With the default request idle timeout. */
    public PredictorSettings(ModelCatalog catalog, int n, Duration publishInterval, String applicationName) {
        this(catalog, n, publishInterval, applicationName, DEFAULT_REQUEST_IDLE_TIMEOUT);
    }

    /** The standard catalog, n = 8, publish every second, application {@value #DEFAULT_APPLICATION}. */
    public static PredictorSettings defaults() {
        return new PredictorSettings(ModelCatalog.standard(), DEFAULT_N, DEFAULT_PUBLISH_INTERVAL,
                DEFAULT_APPLICATION);
    }

    public PredictorSettings withCatalog(ModelCatalog value) {
        return new PredictorSettings(value, n, publishInterval, applicationName, requestIdleTimeout);
    }

    public PredictorSettings withN(int value) {
        return new PredictorSettings(catalog, value, publishInterval, applicationName, requestIdleTimeout);
    }

    public PredictorSettings withPublishInterval(Duration value) {
        return new PredictorSettings(catalog, n, value, applicationName, requestIdleTimeout);
    }

    public PredictorSettings withApplicationName(String value) {
        return new PredictorSettings(catalog, n, publishInterval, value, requestIdleTimeout);
    }

    public PredictorSettings withRequestIdleTimeout(Duration value) {
        return new PredictorSettings(catalog, n, publishInterval, applicationName, value);
    }
}
