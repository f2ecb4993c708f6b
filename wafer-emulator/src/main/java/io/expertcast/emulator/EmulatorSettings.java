package io.expertcast.emulator;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.time.EventTimeBound;
import io.expertcast.core.wafer.Policies;
import io.expertcast.core.wafer.PrefetchSource;
import java.time.Duration;
import java.util.List;

/**
 * What the emulator needs: models, the wafer, the policies to run side by side, its name, the
 * predictor's n (top-n successors per selected expert, Pred policies with the in-process forecast),
 * where the Pred policies' copy decisions come from, and how long (in the passes' event time) a
 * request may go without a pass or a command before its filed commands expire (prefetch source
 * topic: a request whose last step never comes must not keep its commands in memory for ever), and
 * how far ahead of the wall clock a pass or selection may be stamped (further ahead it is a dead
 * letter: it would move that idle clock and expire every other request's commands).
 */
public record EmulatorSettings(ModelCatalog catalog, HardwareConfig hardware, List<String> policies,
                               String applicationName, int predictN, PrefetchSource prefetchSource,
                               Duration requestIdleTimeout, EventTimeBound eventTimeBound) {
    public static final String DEFAULT_APPLICATION_ID = "expertcast-emulator";
    /** The paper does not publish n; 4 successors per selected expert (see docs/reproduction.md). */
    public static final int DEFAULT_PREDICT_N = 4;
    /** As the predictor's default (PredictorSettings.DEFAULT_REQUEST_IDLE_TIMEOUT), so both give a request up alike. */
    public static final Duration DEFAULT_REQUEST_IDLE_TIMEOUT = Duration.ofMinutes(10);

    public EmulatorSettings {
        for (String p : policies) {
            Policies.of(p, List.of()); // rejects an unknown name now, not at the first pass
        }
        if (predictN <= 0) {
            throw new IllegalArgumentException("the predictor's n must be positive, got " + predictN);
        }
        if (prefetchSource == null) {
            throw new IllegalArgumentException("a prefetch source is required (topic or in-process)");
        }
        if (requestIdleTimeout == null || requestIdleTimeout.isNegative() || requestIdleTimeout.isZero()) {
            throw new IllegalArgumentException("the request idle timeout must be positive, got " + requestIdleTimeout);
        }
        if (eventTimeBound == null) {
            throw new IllegalArgumentException("an event-time bound is required");
        }
        policies = List.copyOf(policies);
    }

    /** With the default event-time bound. */
    public EmulatorSettings(ModelCatalog catalog, HardwareConfig hardware, List<String> policies, String applicationName,
                            int predictN, PrefetchSource prefetchSource, Duration requestIdleTimeout) {
        this(catalog, hardware, policies, applicationName, predictN, prefetchSource, requestIdleTimeout,
                EventTimeBound.DEFAULT);
    }

    /** With the default request idle timeout. */
    public EmulatorSettings(ModelCatalog catalog, HardwareConfig hardware, List<String> policies, String applicationName,
                            int predictN, PrefetchSource prefetchSource) {
        this(catalog, hardware, policies, applicationName, predictN, prefetchSource, DEFAULT_REQUEST_IDLE_TIMEOUT);
    }

    /** The service's settings: the Pred policies execute the commands on moe.prefetch. */
    public EmulatorSettings(ModelCatalog catalog, HardwareConfig hardware, List<String> policies, String applicationName) {
        this(catalog, hardware, policies, applicationName, DEFAULT_PREDICT_N, PrefetchSource.TOPIC);
    }

    public static EmulatorSettings defaults() {
        return new EmulatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"), Policies.ALL,
                DEFAULT_APPLICATION_ID);
    }

    public EmulatorSettings withApplicationName(String name) {
        return new EmulatorSettings(catalog, hardware, policies, name, predictN, prefetchSource, requestIdleTimeout, eventTimeBound);
    }

    public EmulatorSettings withPrefetchSource(PrefetchSource source) {
        return new EmulatorSettings(catalog, hardware, policies, applicationName, predictN, source, requestIdleTimeout,
                eventTimeBound);
    }

    public EmulatorSettings withRequestIdleTimeout(Duration timeout) {
        return new EmulatorSettings(catalog, hardware, policies, applicationName, predictN, prefetchSource, timeout,
                eventTimeBound);
    }

    public EmulatorSettings withEventTimeBound(EventTimeBound bound) {
        return new EmulatorSettings(catalog, hardware, policies, applicationName, predictN, prefetchSource,
                requestIdleTimeout, bound);
    }

    public boolean needsPlans() {
        return policies.stream().anyMatch(Policies::needsPlans);
    }

    public boolean needsPrediction() {
        return policies.stream().anyMatch(Policies::needsPrediction);
    }

    /** Whether the topology reads moe.prefetch: a Pred policy runs and takes its copies from the commands. */
    public boolean needsPrefetchCommands() {
        return needsPrediction() && prefetchSource == PrefetchSource.TOPIC;
    }
}
