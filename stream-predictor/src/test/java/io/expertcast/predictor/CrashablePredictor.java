package io.expertcast.predictor;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The predictor in a JVM of its own, for {@link PredictorCrashExactTest} to kill -9: args are bootstrap and
 * state dir. Prints {@code RUNNING} once the application runs; runs until killed.
 */
public final class CrashablePredictor {
    /** A small model, so whole tables are cheap to publish and compare. */
    static final ModelShape TOY = ModelCatalog.parseShape("crash-toy:6:all:24:2");
    static final String APPLICATION = "crash-exact";

    private CrashablePredictor() {
    }

    /**
     * No decay (counts are sums, the same whatever order the request-side tasks' lessons interleave in), whole
     * tables every 4 s: a crash between two of them loses counts unless they are replayed.
     */
    static PredictorSettings settings() {
        ModelCatalog catalog = ModelCatalog.standard();
        catalog.register(TOY);
        return PredictorSettings.defaults().withCatalog(catalog).withN(4).withApplicationName(APPLICATION)
                .withPublishInterval(Duration.ofMillis(500)).withHeatmapHalfLifeTokens(0)
                .withHeatmapPublishInterval(Duration.ofSeconds(1)).withHeatmapSnapshotInterval(Duration.ofSeconds(4))
                .withHeatmapShards(2);
    }

    public static void main(String[] args) throws Exception {
        Map<String, Object> overrides = new HashMap<>();
        // A dead instance is noticed after 6 s (the broker's minimum), not 45 s.
        overrides.put(StreamsConfig.consumerPrefix("session.timeout.ms"), 6000);
        overrides.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), 1500);
        overrides.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        KafkaStreams streams = PredictorApp.start(args[0], Path.of(args[1]), settings(), overrides);
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (streams.state() != KafkaStreams.State.RUNNING && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        System.out.println(streams.state() == KafkaStreams.State.RUNNING ? "RUNNING" : "NOT RUNNING " + streams.state());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
