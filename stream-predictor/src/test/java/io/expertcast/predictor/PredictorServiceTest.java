package io.expertcast.predictor;

import io.expertcast.streams.StreamsService;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.streams.testing.RunnerChecks;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 21: the predictor is built by the one service runner (handler, health, metrics); see StreamsServiceTest. */
class PredictorServiceTest {
    @Test
    void thePredictorRunsThroughTheRunner(@TempDir Path state) throws Exception {
        try (ServiceMetrics metrics = ServiceMetrics.create("predictor");
             StreamsService service = PredictorApp.service("127.0.0.1:1", state, PredictorSettings.defaults(), Map.of(),
                     metrics)) {
            RunnerChecks.assertBuiltByTheRunner(service, metrics, "predictor");
        }
    }
}
