package io.expertcast.replayer.sglang;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import io.expertcast.core.testing.ConsoleCapture;
import io.expertcast.core.testing.ConsoleCapture.Run;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import io.expertcast.core.sglang.LogicalCounts;
import io.expertcast.core.sglang.PerTokenSplitter;
import io.expertcast.core.sglang.RecorderDump;

/**
 * Against dumps written by real torch in SGLang's layout (scripts/fixtures/make_sglang_dumps.py) and
 * the ground truth the script wrote beside them.
 */
class ImportSglangTest {
    private static final Path FIXTURES = Path.of("src", "test", "resources", "sglang");

    @TempDir
    Path temp;

    private static JsonNode expected() throws Exception {
        return new ObjectMapper().readTree(FIXTURES.resolve("expected.json").toFile());
    }

    @Test
    void perTokenPassesSplitIntoTheRequestsThatMadeThem() throws Exception {
        RecorderDump.PerToken dump = (RecorderDump.PerToken) RecorderDump.read(
                FIXTURES.resolve("per_token/expert_distribution_recorder_1700000000.0_0.pt"));
        ModelShape shape = PerTokenSplitter.inferShape(dump, "tiny");
        JsonNode truth = expected();
        assertEquals(truth.get("layers").asInt(), shape.numLayers());
        assertArrayEquals(new int[] {1, 2, 3}, shape.moeLayers(), "layer 0 records only -1: dense");
        assertEquals(truth.get("k").asInt(), shape.topK());
        assertEquals(truth.get("logical_experts").asInt(), shape.numExperts());

        PerTokenSplitter.Result result = PerTokenSplitter.split(dump, shape, "dump");
        List<String> names = new ArrayList<>();
        truth.get("admission_order").forEach(n -> names.add(n.asText()));
        assertEquals(List.of("A", "B", "C", "D", "G", "E", "F", "H", "I"), names);
        assertEquals(names.size(), result.requests().size());
        for (int i = 0; i < names.size(); i++) {
            RequestTrace got = result.requests().get(i);
            JsonNode steps = truth.get("requests").get(names.get(i));
            assertEquals(steps.size(), got.numSteps(), names.get(i) + " steps");
            for (int s = 0; s < steps.size(); s++) {
                JsonNode tokens = steps.get(s);
                assertEquals(tokens.size(), got.tokens(s), names.get(i) + " step " + s + " tokens");
                for (int t = 0; t < tokens.size(); t++) {
                    for (int m = 0; m < 3; m++) {
                        int[] want = new int[4];
                        int[] have = new int[4];
                        for (int a = 0; a < 4; a++) {
                            want[a] = tokens.get(t).get(m).get(a).asInt();
                            have[a] = got.expert(s, t, m, a);
                        }
                        Arrays.sort(have);
                        assertArrayEquals(want, have, names.get(i) + " step " + s + " token " + t + " layer " + m);
                    }
                }
            }
        }
        PerTokenSplitter.Report report = result.report();
        assertEquals(5, result.requests().get(3).prefillTokens(), "D's prefill came in two chunks");
        assertEquals(3, result.requests().get(4).prefillTokens(), "G: only the 3 computed tokens after 6 cached ones");
        assertEquals(5, result.requests().get(7).prefillTokens(), "H: 4 tokens, then a 1-token last chunk");
        assertEquals(14, report.passes(), "16 passes less one IDLE and one TARGET_VERIFY");
        assertEquals(2, report.chunkedContinuations());
        assertEquals(1, report.cachedPrefixStarts());
        // A and G both at 9 (A taken first), E and F both at 2 and again at 3 in the MIXED pass.
        assertEquals(3, report.ambiguousMatches());
        assertEquals(1, report.droppedTokens(), "Z's decode token began before the window");
        assertEquals(0, report.droppedRequests());
        assertEquals(1, report.skippedPasses());
        assertEquals(4, report.openAtEnd(), "E, F, H and I still running");
    }

    @Test
    void perPassStatAndPerTokenGiveTheSameLogicalCounts() throws Exception {
        long[][] want = new ObjectMapper().convertValue(expected().get("logical_count"), long[][].class);
        RecorderDump.PerPass perPass = (RecorderDump.PerPass) RecorderDump.read(
                FIXTURES.resolve("per_pass/expert_distribution_recorder_1700000001.0_0.pt"));
        assertArrayEquals(want, LogicalCounts.fromRecords(perPass.records(), perPass.physicalToLogical(), perPass.file()));
        RecorderDump.Stat stat = (RecorderDump.Stat) RecorderDump.read(
                FIXTURES.resolve("stat/expert_distribution_recorder_1700000002.0.pt"));
        assertEquals(24, stat.logicalCount().dim(0), "the whole ring buffer (saved at a storage offset), unfilled rows zero");
        assertArrayEquals(want, LogicalCounts.fromStat(stat.logicalCount()));
        assertEquals("int64", perPass.physicalToLogical().dtype(), "SGLang's map is int64, the counts int32");
        RecorderDump.PerToken perToken = (RecorderDump.PerToken) RecorderDump.read(
                FIXTURES.resolve("per_token/expert_distribution_recorder_1700000000.0_0.pt"));
        for (long i = 0; i < perToken.physicalToLogical().size(); i++) {
            assertEquals(perToken.physicalToLogical().longAt(i), perPass.physicalToLogical().longAt(i),
                    "the per_pass map is saved transposed twice (strides (1, layers)): same values");
        }
        assertArrayEquals(want, LogicalCounts.fromRecords(perToken.records(), perToken.physicalToLogical(), perToken.file()));
    }


    private static Run run(String... args) {
        return ConsoleCapture.run(() -> new CommandLine(new ImportSglangCommand()).execute(args));
    }

    @Test
    void theCommandWritesRequestsTheDatasetReaderReadsAndLoadStatistics() throws Exception {
        Path dumps = temp.resolve("dumps");
        Files.createDirectories(dumps);
        for (String f : List.of("per_token/expert_distribution_recorder_1700000000.0_0.pt",
                "per_token/expert_distribution_recorder_1700000000.5_1.pt", "per_pass/expert_distribution_recorder_1700000001.0_0.pt",
                "stat/expert_distribution_recorder_1700000002.0.pt")) {
            Files.copy(FIXTURES.resolve(f), dumps.resolve(Path.of(f).getFileName()));
        }
        Path out = temp.resolve("out");
        Run r = run("--dump-dir", dumps.toString(), "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("per_token, 14 passes -> 9 requests"), r.out());
        assertTrue(r.out().contains("expert_distribution_recorder_1700000000.5_1.pt: per_token, the same passes and tokens as "
                + "expert_distribution_recorder_1700000000.0_0.pt"), r.out());
        assertTrue(r.out().contains("1 requests whose prefill began after a cached prefix"), r.out());
        assertTrue(r.out().contains("1 decode tokens continuing no request of the window"), r.out());
        assertTrue(r.out().contains("1 pass(es) of forward mode 5 skipped"), r.out());
        assertTrue(r.out().contains("per_pass, 16 passes: counts only, no request can be recovered; load statistics -> "), r.out());
        assertTrue(r.out().contains("(for place --load)"), r.out());
        List<RequestTrace> read = new ArrayList<>();
        TraceDataset.open(out, ModelCatalog.standard()).requests(false, new ArrayList<>()).forEachRemaining(read::add);
        assertEquals(9, read.size(), "rank 1's copy is imported once");
        assertEquals(12, read.get(0).model().numExperts());
        JsonNode stat = new ObjectMapper().readTree(out.resolve("expert_distribution_recorder_1700000002.0.logical_count.json").toFile());
        assertEquals(expected().get("logical_count"), stat.get("logical_count"));
        JsonNode perPass = new ObjectMapper().readTree(out.resolve("expert_distribution_recorder_1700000001.0_0.logical_count.json").toFile());
        assertEquals(expected().get("logical_count"), perPass.get("logical_count"));
        assertFalse(Files.exists(out.resolve("expert_distribution_recorder_1700000000.5_1.logical_count.json")));
        // The inferred shape is printed as the --model-shape every stage takes.
        assertTrue(r.out().contains("start predictor, allocator and emulator with --model-shape sglang-model:"), r.out());
    }

    @Test
    void loadStatisticsAloneCreateTheOutputFolder() throws Exception {
        for (String kind : List.of("stat", "per_pass")) {
            Path out = temp.resolve(kind).resolve("not/yet/there");
            Run r = run("--dump-dir", FIXTURES.resolve(kind).toString(), "--out", out.toString());
            assertEquals(0, r.exit(), kind + ": " + r.err());
            try (var files = Files.list(out)) {
                assertTrue(files.anyMatch(f -> f.toString().endsWith(".logical_count.json")), kind);
            }
        }
    }

    @Test
    void aFileThatIsNotADumpOrIsTruncatedIsAClearErrorAndNothingIsWritten() throws Exception {
        Path dumps = temp.resolve("bad");
        Files.createDirectories(dumps);
        Files.copy(FIXTURES.resolve("not_a_dump.pt"), dumps.resolve("not_a_dump.pt"));
        Path out = temp.resolve("out");
        Run notDump = run("--dump-dir", dumps.toString(), "--out", out.toString());
        assertEquals(2, notDump.exit());
        assertTrue(notDump.err().contains("not_a_dump.pt: not an expert distribution recorder dump (keys [answer]"),
                notDump.err());
        assertFalse(Files.exists(out), "nothing half-written");

        Files.delete(dumps.resolve("not_a_dump.pt"));
        byte[] good = Files.readAllBytes(FIXTURES.resolve("per_token/expert_distribution_recorder_1700000000.0_0.pt"));
        Files.write(dumps.resolve("cut.pt"), Arrays.copyOf(good, good.length / 2));
        Run truncated = run("--dump-dir", dumps.toString(), "--out", out.toString());
        assertEquals(2, truncated.exit());
        assertTrue(truncated.err().contains("cut.pt: not a torch.save file"), truncated.err());
        assertFalse(Files.exists(out));

        Files.delete(dumps.resolve("cut.pt"));
        Files.writeString(dumps.resolve("load.json"), "{\"logical_count\": [[1, 2], [3]]}");
        Run shape = run("--dump-dir", dumps.toString(), "--out", out.toString());
        assertEquals(2, shape.exit());
        assertTrue(shape.err().contains("load.json: logical_count row 1"), shape.err());
        assertEquals(2, run("--dump-dir", dumps.toString()).exit(), "needs --out or --replay");
    }

    @Test
    void idsOutsideTheMapWrongShapesAndBadMapsNameTheFileAndWriteNothing() throws Exception {
        String[][] cases = {
                {"outside_map.pt", "outside_map.pt: pass 2, token 1: physical expert 16 at layer 2 is outside last_physical_to_logical_map (16 slots)"},
                {"wrong_layers.pt", "wrong_layers.pt: the map has 3 layers, sglang-model has 4"},
                {"negative_map.pt", "negative_map.pt: last_physical_to_logical_map maps physical slot 3 of layer 1 to logical expert -1"},
        };
        for (String[] c : cases) {
            Path dumps = temp.resolve("bad-" + c[0]);
            Files.createDirectories(dumps);
            Files.copy(FIXTURES.resolve("bad").resolve(c[0]), dumps.resolve(c[0]));
            Path out = temp.resolve("out-" + c[0]);
            Run r = run("--dump-dir", dumps.toString(), "--out", out.toString());
            assertEquals(2, r.exit(), c[0] + ": " + r.err());
            assertTrue(r.err().contains(c[1]), r.err());
            assertFalse(r.err().contains("Exception"), "a message, not a stack trace: " + r.err());
            assertFalse(Files.exists(out), "nothing half-written");
        }
    }
}
