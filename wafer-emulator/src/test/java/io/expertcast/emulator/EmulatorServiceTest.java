package io.expertcast.emulator;

import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.streams.StreamsService;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.streams.testing.RunnerChecks;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 21: the emulator is built by the one service runner (handler, health, metrics); see StreamsServiceTest. */
class EmulatorServiceTest {
    @Test
    void theEmulatorRunsThroughTheRunner(@TempDir Path state) throws Exception {
        try (ServiceMetrics metrics = ServiceMetrics.create("emulator");
             StreamsService service = EmulatorApp.service("127.0.0.1:1", state, EmulatorSettings.defaults(), Map.of(),
                     new WaferSnapshot(), metrics)) {
            RunnerChecks.assertBuiltByTheRunner(service, metrics, "emulator");
        }
    }
}
