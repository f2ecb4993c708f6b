package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class PredictorCommandTest {

    @Test
    void optionsBecomeSettingsWithTheDocumentedDefaults() {
        PredictorCommand command = new PredictorCommand();
        new CommandLine(command).parseArgs("--model-shape", "toy:4:all:16:2");
        PredictorSettings settings = command.settings();
        assertEquals("127.0.0.1:9092", command.kafka.withWorkDir(Path.of("no-such-work-dir")).bootstrap());
        assertEquals(Path.of("./work/state"), command.stateDir.path());
        assertEquals(8, settings.n());
        assertEquals(Duration.ofSeconds(1), settings.publishInterval());
        assertEquals("expertcast-predictor", settings.applicationName());
        assertEquals(8471, command.httpPort);
        assertTrue(settings.catalog().byId("toy").isPresent());
        assertTrue(settings.catalog().byId("llama4-maverick").isPresent());

        new CommandLine(command).parseArgs("--n", "4", "--application-id", "p2");
        assertEquals(4, command.settings().n());
        assertEquals("p2", command.settings().applicationName());
        assertEquals(50_000.0, settings.heatmapHalfLifeTokens());
        assertEquals(Duration.ofSeconds(5), settings.heatmapPublishInterval());
        assertEquals(8, settings.tableWidth());
        assertEquals(4, settings.heatmapShards());
        assertEquals(Duration.ofSeconds(60), settings.heatmapSnapshotInterval());
        new CommandLine(command).parseArgs("--heatmap-half-life", "0", "--table-width", "3",
                "--heatmap-snapshot-interval-ms", "0");
        assertEquals(0.0, command.settings().heatmapHalfLifeTokens());
        assertEquals(3, command.settings().tableWidth());
        assertEquals(Duration.ZERO, command.settings().heatmapSnapshotInterval());

        assertEquals(PredictorRole.ALL, command.settings().role());
        assertEquals("expertcast-predictor", command.settings().applicationId());
        new CommandLine(command).parseArgs("--application-id", "p2", "--role", "requests");
        assertEquals(PredictorRole.REQUESTS, command.settings().role());
        assertEquals("p2", command.settings().applicationId());
        new CommandLine(command).parseArgs("--application-id", "p2", "--role", "heatmaps");
        assertEquals(PredictorRole.HEATMAPS, command.settings().role());
        assertEquals("p2-heatmaps", command.settings().applicationId());
        assertEquals("p2", command.settings().applicationName()); // on its dead letters, as the other part's
    }

    @Test
    void badOptionsAreUsageErrorsNamingTheProblemNotStackTraces() {
        assertUsageError("n must be positive", "--n", "0");
        assertUsageError("model shape 'nonsense'", "--model-shape", "nonsense");
        assertUsageError("publish interval must be positive", "--publish-interval-ms", "0");
        assertUsageError("heatmap snapshot interval must be >= 0", "--heatmap-snapshot-interval-ms", "-1");
        assertUsageError("--http-port must be in 0..65535", "--http-port", "70000");
        assertUsageError("heatmap half-life must be >= 0", "--heatmap-half-life", "-1");
        assertUsageError("table width must be positive", "--table-width", "0");
        assertUsageError("heatmap shards must be positive", "--heatmap-shards", "0");
        assertUsageError("unknown predictor role 'aggregator'; one of all, requests, heatmaps", "--role", "aggregator");
    }

    private static void assertUsageError(String message, String... args) {
        StringWriter err = new StringWriter();
        CommandLine commandLine = new CommandLine(new PredictorCommand()).setErr(new PrintWriter(err));
        assertEquals(2, commandLine.execute(args));
        assertTrue(err.toString().contains(message), err.toString());
    }
}
