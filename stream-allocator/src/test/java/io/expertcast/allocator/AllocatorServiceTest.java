package io.expertcast.allocator;

import io.expertcast.streams.StreamsService;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.streams.testing.RunnerChecks;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 21: the allocator is built by the one service runner (handler, health, metrics); see StreamsServiceTest. */
class AllocatorServiceTest {
    @Test
    void theAllocatorRunsThroughTheRunner(@TempDir Path state) throws Exception {
        try (ServiceMetrics metrics = ServiceMetrics.create("allocator");
             StreamsService service = AllocatorApp.service("127.0.0.1:1", state, AllocatorSettings.defaults(), Map.of(),
                     metrics)) {
            RunnerChecks.assertBuiltByTheRunner(service, metrics, "allocator");
        }
    }
}
