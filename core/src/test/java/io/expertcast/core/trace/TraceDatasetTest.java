package io.expertcast.core.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.core.model.ModelCatalog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceDatasetTest {
    private static final Path SAMPLE = Path.of("../data/sample");
    private static final String LLAMA = "meta-llama/Llama-4-Maverick-17B-128E-Instruct";

    @TempDir
    Path dir;

    @Test
    void readsTheBundledSampleInDatasetOrder() {
        TraceDataset dataset = TraceDataset.open(SAMPLE, ModelCatalog.standard());
        assertEquals(30, dataset.files().size());
        List<RequestTrace> all = new ArrayList<>();
        dataset.requests(false, new ArrayList<>()).forEachRemaining(all::add);
        assertEquals(30, all.size());
        // Query indices are numbered across the benchmark: abstract_algebra 0..14, then anatomy 100..114.
        assertEquals("llama4-maverick/mmlu/abstract_algebra/0", all.get(0).requestId());
        assertEquals("llama4-maverick/mmlu/abstract_algebra/2", all.get(2).requestId());
        assertEquals("llama4-maverick/mmlu/anatomy/100", all.get(15).requestId());
        RequestTrace r = all.get(0);
        assertEquals("mmlu", r.benchmark());
        assertEquals("abstract_algebra", r.subject());
        assertEquals("en", r.language());
        assertEquals(ModelCatalog.LLAMA4_MAVERICK, r.model());
    }

    @Test
    void everyIdMatchesAnIndependentTreeParse() throws Exception {
        Path file = SAMPLE.resolve("core12345/" + LLAMA + "/mmlu/anatomy/100.json");
        RequestTrace r = TraceDataset.open(SAMPLE, ModelCatalog.standard()).read(file);
        JsonNode steps = new ObjectMapper().readTree(file.toFile());
        assertEquals(steps.size(), r.numSteps());
        var shape = r.model();
        for (int s = 0; s < steps.size(); s++) {
            for (int m = 0; m < shape.numMoeLayers(); m++) {
                JsonNode rows = steps.get(s).get(String.valueOf(shape.moeLayer(m)));
                assertEquals(rows.size(), r.tokens(s));
                for (int t = 0; t < rows.size(); t++) {
                    assertEquals(rows.get(t).get(0).asInt(), r.expert(s, t, m, 0));
                }
            }
            assertTrue(steps.get(s).get("0").isNull());
        }
    }

    private Path write(String subject, String name, String json) throws Exception {
        Path file = dir.resolve("org/tiny/mmlu_ZH_CN/" + subject + "/" + name + ".json");
        Files.createDirectories(file.getParent());
        Files.writeString(file, json);
        return file;
    }

    private TraceDataset tiny() {
        // 3 layers, layer 0 dense, MoE layers 1 and 2, 4 experts, k = 2.
        return TraceDataset.open(dir, new ModelCatalog().register(ModelCatalog.parseShape("tiny:3:from=1:4:2"), "org/tiny"));
    }

    private static final String GOOD = "[{\"0\": null, \"1\": [[0,1],[2,3]], \"2\": [[1,2],[3,0]]},"
            + " {\"0\": null, \"1\": [[1,0]], \"2\": [[2,3]]}]";

    @Test
    void readsAHandMadeFileAndTagsChineseBenchmarks() throws Exception {
        Path f = write("s", "7", GOOD);
        RequestTrace r = tiny().read(f);
        assertEquals("zh", r.language());
        assertEquals(2, r.prefillTokens());
        assertEquals(1, r.numDecodeSteps());
        assertEquals(3, r.expert(0, 1, 0, 1));
        assertEquals(2, r.expert(1, 0, 1, 0));
    }

    @Test
    void eachMalformationIsRejectedWithFileAndPosition() throws Exception {
        String[][] cases = {
                {"truncated", GOOD.substring(0, 40), "malformed JSON"},
                {"outofrange", GOOD.replace("[3,0]", "[4,0]"), "expert id 4 out of range"},
                {"wrongk", GOOD.replace("[[1,0]]", "[[1,0,2]]"), "expected k = 2"},
                {"missing", GOOD.replace("\"0\": null, \"1\": [[1,0]]", "\"1\": [[1,0]]"), "layer key \"0\" missing"},
                {"extra", GOOD.replace("\"2\": [[2,3]]}", "\"2\": [[2,3]], \"3\": null}"), "unexpected layer key \"3\""},
                {"densewithids", GOOD.replace("{\"0\": null, \"1\": [[1,0]]", "{\"0\": [[1,0]], \"1\": [[1,0]]"), "dense"},
                {"nullmoe", GOOD.replace("\"1\": [[1,0]]", "\"1\": null"), "is null"},
                {"twodecoderows", GOOD.replace("\"1\": [[1,0]], \"2\": [[2,3]]", "\"1\": [[1,0],[0,1]], \"2\": [[2,3],[0,1]]"), "expected 1"},
                {"empty", "[]", "empty step list"},
        };
        for (String[] c : cases) {
            Path f = write("bad", c[0], c[1]);
            TraceFormatException e = assertThrows(TraceFormatException.class, () -> tiny().read(f), c[0]);
            assertTrue(e.getMessage().contains(f.toString()), c[0] + ": " + e.getMessage());
            assertTrue(e.getMessage().contains(c[2]), c[0] + ": " + e.getMessage());
            if (!c[0].equals("empty")) {
                assertTrue(e.getMessage().matches("(?s).*line \\d+, column \\d+.*"), c[0] + ": " + e.getMessage());
            }
        }
    }

    @Test
    void skipBadSkipsCountsAndGoesOn() throws Exception {
        write("s", "1", GOOD);
        write("s", "2", GOOD.replace("[3,0]", "[9,0]"));
        write("s", "3", GOOD);
        List<String> skipped = new ArrayList<>();
        Iterator<RequestTrace> it = tiny().requests(true, skipped);
        List<String> ids = new ArrayList<>();
        it.forEachRemaining(r -> ids.add(r.requestId()));
        assertEquals(List.of("tiny/mmlu_ZH_CN/s/1", "tiny/mmlu_ZH_CN/s/3"), ids);
        assertEquals(1, skipped.size());
        assertTrue(skipped.get(0).contains("2.json"));
        assertThrows(TraceFormatException.class, () -> tiny().requests(false, new ArrayList<>()).forEachRemaining(r -> { }));
    }

    @Test
    void infersTheShapeOfAnUnknownModel() throws Exception {
        Path f = dir.resolve("someone/new-moe/bench/sub/0.json");
        Files.createDirectories(f.getParent());
        Files.writeString(f, GOOD);
        RequestTrace r = TraceDataset.open(dir, ModelCatalog.standard()).read(f);
        assertEquals("new-moe", r.model().id());
        assertEquals(3, r.model().numLayers());
        assertEquals(2, r.model().numMoeLayers());
        assertEquals(2, r.model().topK());
        assertEquals(4, r.model().numExperts()); // largest id 3 + 1
        assertEquals(8, TraceDataset.open(dir, ModelCatalog.standard(), 8).read(f).model().numExperts());
    }

    @Test
    void aFolderWithoutTracesIsAClearError() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TraceDataset.open(dir, ModelCatalog.standard()))
                .getMessage().contains("no trace files"));
        assertThrows(IllegalArgumentException.class, () -> TraceDataset.open(dir.resolve("none"), ModelCatalog.standard()));
    }
}
