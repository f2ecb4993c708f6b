package io.expertcast.offline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import io.expertcast.core.testing.ConsoleCapture;
import io.expertcast.core.testing.ConsoleCapture.Run;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The simulate command on the bundled real Llama-4 sample, a custom mesh file, and bad input. */
class SimulateCommandTest {
    private static final String SAMPLE = "../data/sample";

    static Run run(String... args) {
        return ConsoleCapture.run(() -> new CommandLine(new SimulateCommand()).execute(args));
    }

    static Path meshFile(Path dir, String name, String... overrides) throws Exception {
        List<String> lines = new ArrayList<>(List.of("rows=4", "cols=4", "dies=16", "peak_flops_per_s=989e12",
                "hbm_bytes=80e9", "hbm_bytes_per_s=3.35e12", "link_bytes_per_s=1.7e12", "hop_latency_ns=200",
                "llc_bytes=67108864", "llc_hit_ns=100", "llc_miss_extra_ns=110", "llc_write_ns=30",
                "hbm_access_ns=300", "command_bytes=16", "dram_reserved_fraction=0.10"));
        for (String o : overrides) {
            String key = o.substring(0, o.indexOf('='));
            lines.removeIf(l -> l.startsWith(key + "="));
            lines.add(o);
        }
        Path f = dir.resolve(name + ".properties");
        Files.write(f, lines);
        return f;
    }

    @Test
    void realSampleOnACustomMeshGivesTheIssuesJsonRows(@TempDir Path dir) throws Exception {
        Path mesh = meshFile(dir, "wafer-4x4");
        Run r = run("--traces", SAMPLE, "--limit", "12", "--batch", "6,12", "--mesh", mesh.toString(), "--format", "json");
        assertEquals(0, r.exit(), r.err());
        JsonNode rows = new ObjectMapper().readTree(r.out()).get("rows");
        assertEquals(10, rows.size(), "2 batch sizes x 5 policies");
        JsonNode base = rows.get(0);
        assertEquals("llama4-maverick", base.get("model").asText());
        assertEquals("wafer-4x4", base.get("mesh").asText());
        assertEquals(6, base.get("batch").asInt());
        assertEquals("base", base.get("policy").asText());
        assertEquals(1.0, base.get("throughput_vs_base").asDouble(), 0.0);
        assertEquals(1.0, base.get("hops_reduction_vs_base").asDouble(), 0.0);
        assertTrue(base.get("hops").asLong() > 0);
        JsonNode ep = rows.get(1);
        assertEquals("ep", ep.get("policy").asText());
        assertEquals(0, ep.get("hops").asLong());
        assertTrue(ep.get("hops_reduction_vs_base").isNull(), "no hops: null, not infinity");
        assertTrue(ep.get("throughput_tokens_per_s").asDouble() > 0);
        for (JsonNode row : rows) {
            assertTrue(row.get("tokens").asLong() > 0);
            assertNull(row.get("unexpected"));
        }
    }

    @Test
    void aDieCountThatDoesNotMatchTheMeshIsAClearError(@TempDir Path dir) throws Exception {
        Run r = run("--traces", SAMPLE, "--mesh", meshFile(dir, "odd", "dies=15").toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("simulate: odd: dies=15 does not match the 4x4 mesh (16 dies)"), r.err());
    }

    @Test
    void aZeroOrNegativeBandwidthIsAClearError(@TempDir Path dir) throws Exception {
        Run zero = run("--traces", SAMPLE, "--mesh", meshFile(dir, "slow", "link_bytes_per_s=0").toString());
        assertEquals(2, zero.exit());
        assertTrue(zero.err().contains("slow: link_bytes_per_s must be positive, got 0.0"), zero.err());
        Run negative = run("--traces", SAMPLE, "--mesh", meshFile(dir, "neg", "hbm_bytes_per_s=-3e12").toString());
        assertEquals(2, negative.exit());
        assertTrue(negative.err().contains("neg: hbm_bytes_per_s must be positive"), negative.err());
    }

    @Test
    void aModelThatDoesNotFitTheWaferAndOtherBadOptionsAreClearErrors(@TempDir Path dir) throws Exception {
        Run tiny = run("--synth", "deepseek-v3", "--requests", "2", "--batch", "2", "--passes", "2",
                "--mesh", meshFile(dir, "tiny", "rows=2", "cols=2", "dies=4").toString());
        assertEquals(2, tiny.exit());
        assertTrue(tiny.err().contains("deepseek-v3 does not fit on tiny"), tiny.err());
        assertEquals(2, run("--synth", "gpt-9").exit());
        assertEquals(2, run("--traces", SAMPLE, "--policies", "base,oracle").exit());
        assertEquals(2, run("--traces", SAMPLE, "--batch", "0").exit());
        assertEquals(2, run("--traces", dir.resolve("missing").toString()).exit());
        assertEquals(2, run("--traces", SAMPLE, "--format", "xml").exit());
        assertEquals(2, run("--traces", SAMPLE, "--bytes-per-param", "0").exit());
    }

    @Test
    void prefetchShapesRunSideBySideWithTheirCommandBytes() throws Exception {
        Run r = run("--traces", SAMPLE, "--limit", "12", "--batch", "6", "--policies", "base,pred",
                "--prefetch-shape", "on-wafer,per-request,per-pass,per-die", "--format", "json");
        assertEquals(0, r.exit(), r.err());
        JsonNode rows = new ObjectMapper().readTree(r.out()).get("rows");
        assertEquals(5, rows.size(), "base once, pred once per shape");
        assertTrue(rows.get(0).get("prefetch_shape").isNull(), "base does not predict");
        assertTrue(rows.get(0).get("command_bytes_per_pass").isNull());
        JsonNode[] pred = new JsonNode[4];
        String[] shapes = {"on-wafer", "per-request", "per-pass", "per-die"};
        for (int i = 0; i < 4; i++) {
            pred[i] = rows.get(1 + i);
            assertEquals("pred", pred[i].get("policy").asText());
            assertEquals(shapes[i], pred[i].get("prefetch_shape").asText());
            assertTrue(pred[i].get("copy_enabled_experts_per_layer").asDouble() > 0, shapes[i]);
        }
        assertEquals(0.0, pred[0].get("command_bytes_per_pass").asDouble(), 0.0, "on the wafer no command travels");
        // Llama-4 is top-1 with 24 MoE layers: a per-request command is 24 x n = 4 ids of 4 bytes.
        assertEquals(24 * 4 * 4, pred[1].get("command_bytes_per_pass").asDouble()
                / pred[1].get("commands_per_pass").asDouble(), 1e-9);
        assertTrue(pred[2].get("command_bytes_per_pass").asDouble() > 0);
        // The wafer copies only what a die reads remotely, so per-die copies exactly what per-pass copies,
        // with fewer bytes (only the experts each die read remotely).
        for (String f : List.of("throughput_tokens_per_s", "hops", "copy_writes", "copy_reads", "remote_reads")) {
            assertEquals(pred[2].get(f).asDouble(), pred[3].get(f).asDouble(), 0.0, f);
        }
        assertTrue(pred[3].get("command_bytes_per_pass").asDouble() < pred[2].get("command_bytes_per_pass").asDouble());
        assertTrue(pred[1].get("hops").asLong() != pred[2].get("hops").asLong(), "the shapes copy differently");

        Run table = run("--traces", SAMPLE, "--limit", "12", "--batch", "6", "--policies", "pred",
                "--prefetch-shape", "per-pass");
        assertEquals(0, table.exit(), table.err());
        assertTrue(table.out().contains("pred/per-pass"), table.out());
        assertTrue(table.out().contains("Prefetch commands"), table.out());
    }

    @Test
    void anUnknownPrefetchShapeIsAClearError() {
        Run r = run("--traces", SAMPLE, "--prefetch-shape", "per-pass,per-token");
        assertEquals(2, r.exit());
        assertEquals("simulate: unknown prefetch shape 'per-token', known: on-wafer, per-request, per-pass, per-pass-blended, per-die",
                r.err().strip());
    }
}
