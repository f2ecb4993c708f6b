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
                "--report-layers", "3,23");
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
        assertEquals(3, json.get("per_layer").get("moe_layer").get(3).asInt());
        assertEquals(7, json.get("per_layer").get("layer").get(3).asInt(), "MoE layer 3 of Llama-4 is model layer 7");
        assertTrue(Files.size(report.resolve("llama4-maverick-moe3-token.png")) > 1000);
        assertTrue(Files.size(report.resolve("llama4-maverick-moe3-layer.png")) > 1000);
        assertTrue(Files.exists(report.resolve("llama4-maverick-moe23-token.png")));
        assertTrue(Files.readString(report.resolve("index.html")).contains("moe3-token.png"));
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
        Run layers = run("--traces", SAMPLE.toString(), "--report", temp.resolve("r").toString(), "--report-layers", "24");
        assertEquals(2, layers.exit());
        assertTrue(layers.err().contains("24 is not a MoE layer index of llama4-maverick (MoE layers are numbered 0..23"),
                layers.err());
    }

    @Test
    void aWrongLayerIsReportedBeforeTheAnalysisReadsTheRest() throws Exception {
        Path good = temp.resolve("acme/Tiny-MoE/bench/subject/0.json");
        Files.createDirectories(good.getParent());
        Files.writeString(good, "[{\"0\": null, \"1\": [[0, 1]], \"2\": [[4, 5]]}]");
        // A later file is truncated: an analysis that ran to the end would stop on it instead.
        Files.writeString(good.resolveSibling("1.json"), "[{\"0\": [[1]], ");
        Run r = run("--traces", temp.toString(), "--model-shape", "Tiny-MoE:3:from=1:7:2", "--report",
                temp.resolve("r").toString(), "--report-layers", "2");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("2 is not a MoE layer index of Tiny-MoE"), r.err());
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
