package io.expertcast.core.trace;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonLinesTracesTest {
    private static final ModelCatalog CATALOG = ModelCatalog.standard();

    @TempDir
    Path dir;

    private static List<RequestTrace> all(Iterator<RequestTrace> it) {
        List<RequestTrace> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void writtenRequestsReadBackIdentically() throws Exception {
        ModelShape model = CATALOG.byId("deepseek-v3").orElseThrow();
        List<RequestTrace> written = all(new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), 3).requests(3));
        StringWriter out = new StringWriter();
        for (RequestTrace r : written) {
            JsonLinesTraces.write(r, out);
        }
        Path file = dir.resolve("t.jsonl");
        Files.writeString(file, out.toString());
        List<RequestTrace> read = all(JsonLinesTraces.read(file, CATALOG));
        assertEquals(written.size(), read.size());
        for (int i = 0; i < read.size(); i++) {
            RequestTrace a = written.get(i);
            RequestTrace b = read.get(i);
            assertEquals(a.requestId(), b.requestId());
            assertEquals(a.benchmark() + a.subject() + a.language(), b.benchmark() + b.subject() + b.language());
            assertEquals(a.numSteps(), b.numSteps());
            for (int s = 0; s < a.numSteps(); s++) {
                assertArrayEquals(a.steps().get(s), b.steps().get(s));
            }
        }
    }

    @Test
    void interleavedRequestsCloseOnTheirLastLineOrAtTheEnd() throws Exception {
        Path file = dir.resolve("t.jsonl");
        Files.writeString(file, """
                {"request": "a", "model": "llama4-maverick", "step": 0, "experts": [%1$s, %1$s]}
                {"request": "b", "model": "llama4-maverick", "step": 0, "experts": [%1$s]}
                {"request": "a", "model": "llama4-maverick", "step": 1, "experts": [%1$s], "last": true}

                {"request": "b", "model": "llama4-maverick", "step": 1, "experts": [%1$s]}
                """.formatted(llamaToken(5)));
        List<RequestTrace> read = all(JsonLinesTraces.read(file, CATALOG));
        assertEquals(List.of("a", "b"), read.stream().map(RequestTrace::requestId).toList());
        assertEquals(2, read.get(0).prefillTokens());
        assertEquals(1, read.get(1).numDecodeSteps());
        assertEquals("unknown", read.get(0).benchmark());
        assertEquals(5, read.get(0).expert(1, 0, 23, 0));
    }

    @Test
    void badLinesNameTheFileAndLine() throws Exception {
        String token = llamaToken(1);
        assertError("{\"request\": \"a\", \"model\": \"llama4-maverick\", \"step\": 1, \"experts\": [" + token + "]}",
                "line 1: request a starts at step 1");
        assertError("{\"request\": \"a\", \"model\": \"gpt-moe\", \"step\": 0, \"experts\": [" + token + "]}",
                "line 1: unknown model gpt-moe");
        assertError("{\"request\": \"a\", \"model\": \"llama4-maverick\", \"step\": 0, \"experts\": [" + llamaToken(128) + "]}",
                "expert id 128 out of range 0..127");
        assertError("{\"request\": \"a\", \"model\": \"llama4-maverick\", \"step\": 0, \"experts\": [[[1, 2]]]}",
                "token 0 has 1 layer rows, llama4-maverick has 24 MoE layers");
        assertError("{\"request\": \"a\", \"model\": \"llama4-maverick\", \"step\": 0, \"experts\": [" + token + "]}\n"
                + "{\"request\": \"a\", \"model\": \"llama4-maverick\", \"step\": 2, \"experts\": [" + token + "]}",
                "line 2: request a step 2 after step 0");
        assertError("{\"request\": \"a\", \"model\": \"llama4-maverick\", \"step\": 0, \"experts\": [" + token,
                "line 1: malformed JSON");
        assertError("{\"request\": \"a\", \"step\": 0}", "needs \"request\", \"model\"");
    }

    private void assertError(String content, String expected) throws Exception {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, content + "\n");
        Iterator<RequestTrace> it = JsonLinesTraces.read(file, CATALOG);
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> all(it));
        assertTrue(e.getMessage().contains("bad.jsonl"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    /** One Llama-4 token: 24 MoE layers of one id each. */
    private static String llamaToken(int expert) {
        return "[" + String.join(", ", java.util.Collections.nCopies(24, "[" + expert + "]")) + "]";
    }

    @Test
    void theDatasetWriterRoundTripsThroughTheDatasetReaderIncludingACustomShape() {
        ModelShape custom = ModelCatalog.parseShape("tiny-moe:6:from=2:16:2");
        SyntheticTraceGenerator generator = new SyntheticTraceGenerator(custom,
                SyntheticCalibration.of(custom), 9);
        DatasetWriter writer = new DatasetWriter(dir, "synthetic");
        writer.writeShape(custom, "tiny-moe:6:from=2:16:2");
        List<RequestTrace> written = all(generator.requests(4));
        written.forEach(writer::write);
        TraceDataset dataset = TraceDataset.open(dir, ModelCatalog.standard());
        List<RequestTrace> read = all(dataset.requests(false, new ArrayList<>()));
        assertEquals(4, read.size());
        assertEquals(16, read.get(0).model().numExperts(), "the shape file, not the largest id, gives E");
        assertEquals(4, read.get(0).model().numMoeLayers());
        assertFalse(read.isEmpty());
        for (RequestTrace r : read) {
            RequestTrace w = written.stream().filter(x -> x.requestId().equals(r.requestId())).findFirst().orElseThrow();
            for (int s = 0; s < w.numSteps(); s++) {
                assertArrayEquals(w.steps().get(s), r.steps().get(s));
            }
        }
    }
}
