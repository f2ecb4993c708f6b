package io.expertcast.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import io.expertcast.core.testing.ConsoleCapture;
import io.expertcast.core.testing.ConsoleCapture.Run;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class AnalyzeCommandTest {
    /** The 30 real Llama-4 requests bundled with the project. */
    private static final Path SAMPLE = Path.of("..", "data", "sample");

    @TempDir
    Path temp;


    private static Run run(String... args) {
        return ConsoleCapture.run(() -> new CommandLine(new AnalyzeCommand()).execute(args));
    }

    @Test
    void jsonHasIssueThreesKeysAndTheReportHasHeatmaps() throws Exception {
        Path report = temp.resolve("report");
        Run r = run("--traces", SAMPLE.toString(), "--format", "json", "--report", report.toString(),
                "--report-layers", "7,47");
        assertEquals(0, r.exit(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertEquals("llama4-maverick", json.get("model").asText());
        assertEquals(30, json.get("requests").asInt());
        for (String key : new String[] {"token_level_top20_coverage", "layer_level_top20_coverage",
                "prefill_decode_spearman_mean", "top5_overlap", "top10_overlap", "top20_overlap", "hot_expert_ratio_max"}) {
            double v = json.get(key).asDouble();
            assertTrue(v > 0, key + " = " + v);
            // per layer; layer->layer pairs each MoE layer with the next, so it has one entry fewer
            assertEquals(key.startsWith("layer_level") ? 23 : 24, json.get("per_layer").get(key).size(), key);
        }
        assertTrue(json.get("top10pct_pair_share").isNull(), "Llama-4 is top-1: no pairs");
        assertTrue(Files.size(report.resolve("llama4-maverick-layer7-token.png")) > 1000);
        assertTrue(Files.size(report.resolve("llama4-maverick-layer7-layer.png")) > 1000);
        assertTrue(Files.exists(report.resolve("llama4-maverick-layer47-token.png")));
        assertTrue(Files.readString(report.resolve("index.html")).contains("layer7-token.png"));
    }

    @Test
    void aModelOutsideTheCatalogGetsAnInferredShape() throws Exception {
        Path file = temp.resolve("acme/Tiny-MoE/bench/subject/0.json");
        Files.createDirectories(file.getParent());
        // 3 layers, layer 0 dense; k = 2; largest id 6, so E = 7.
        Files.writeString(file, "[{\"0\": null, \"1\": [[0, 1], [2, 3]], \"2\": [[4, 5], [6, 0]]},"
                + " {\"0\": null, \"1\": [[0, 1]], \"2\": [[4, 5]]}, {\"0\": null, \"1\": [[0, 2]], \"2\": [[4, 6]]}]");
        Run r = run("--traces", temp.resolve("acme").getParent().toString(), "--format", "json");
        assertEquals(0, r.exit(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertEquals("Tiny-MoE", json.get("model").asText());
        assertEquals(7, json.get("experts").asInt());
        assertEquals(2, json.get("moe_layers").asInt());
        assertTrue(json.get("top10pct_pair_share").isNumber());
    }

    @Test
    void badInputIsAClearErrorWithExitCode2() throws Exception {
        Run phase = run("--traces", SAMPLE.toString(), "--phase", "both");
        assertEquals(2, phase.exit());
        assertTrue(phase.err().contains("--phase must be decode or prefill"), phase.err());
        Path bad = temp.resolve("o/m/b/s/1.json");
        Files.createDirectories(bad.getParent());
        Files.writeString(bad, "[{\"0\": [[1]], ");
        Run truncated = run("--traces", temp.resolve("o").getParent().toString());
        assertEquals(2, truncated.exit());
        assertTrue(truncated.err().contains("1.json"), truncated.err());
        Run layers = run("--traces", SAMPLE.toString(), "--report", temp.resolve("r").toString(), "--report-layers", "2");
        assertEquals(2, layers.exit());
        assertTrue(layers.err().contains("layer 2 is not a MoE layer"), layers.err());
    }

    @Test
    void pairsOutWritesAFileThePlaceCommandReads() throws Exception {
        Path pairs = temp.resolve("pairs.json");
        Run r = run("--traces", SAMPLE.toString(), "--pairs-out", pairs.toString());
        assertEquals(0, r.exit(), r.err());
        // The sample is Llama-4 (top-1): a token selects one routed expert, so no pair is ever co-activated.
        var file = io.expertcast.core.placement.PairCountFile.read(pairs, 48, 128, "llama4-maverick");
        assertEquals(0, file.matrix(1)[0][1]);
    }
}
