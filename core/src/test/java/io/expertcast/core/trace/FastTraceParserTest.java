package io.expertcast.core.trace;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fast reader gives the Jackson reader's result on every file Jackson accepts, and gives up on the rest. */
class FastTraceParserTest {
    @TempDir
    Path dir;

    @Test
    void agreesWithJacksonOnTheRealSampleAndOnWrittenFiles() throws Exception {
        List<Path> files;
        try (Stream<Path> walk = Files.walk(Path.of("..", "data", "sample", "core12345"))) {
            files = walk.filter(p -> p.toString().endsWith(".json")).toList();
        }
        for (Path f : files) {
            assertSame(Files.readAllBytes(f), ModelCatalog.LLAMA4_MAVERICK, f);
        }
        ModelShape ds = ModelCatalog.DEEPSEEK_V3;
        new SyntheticTraceGenerator(ds, SyntheticCalibration.of(ds), 4).requests(3)
                .forEachRemaining(r -> new DatasetWriter(dir, "synthetic").write(r));
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path f : walk.filter(p -> p.toString().endsWith(".json")).toList()) {
                assertSame(Files.readAllBytes(f), ds, f);
            }
        }
    }

    private static void assertSame(byte[] data, ModelShape shape, Path f) {
        List<int[]> fast = FastTraceParser.parse(data, shape);
        assertNotNull(fast, "fast reader gave up on a good file " + f);
        List<int[]> jackson = TraceDataset.parseWithJackson(data, f, shape);
        assertEquals(jackson.size(), fast.size());
        for (int s = 0; s < fast.size(); s++) {
            assertArrayEquals(jackson.get(s), fast.get(s), f + " step " + s);
        }
    }

    @Test
    void givesUpWhereverJacksonRejectsAndAgreesWhereItAccepts() throws Exception {
        Path f = Path.of("..", "data", "sample", "core12345", "meta-llama", "Llama-4-Maverick-17B-128E-Instruct",
                "mmlu", "anatomy");
        Path file;
        try (Stream<Path> walk = Files.list(f)) {
            file = walk.sorted().findFirst().orElseThrow();
        }
        byte[] good = Files.readAllBytes(file);
        SplittableRandom random = new SplittableRandom(17);
        byte[] replacements = "0123456789[]{},:\" -nul.ex".getBytes(StandardCharsets.US_ASCII);
        int rejected = 0;
        for (int trial = 0; trial < 3000; trial++) {
            byte[] bad = good.clone();
            if (trial % 3 == 0) {
                bad = java.util.Arrays.copyOf(good, random.nextInt(good.length));
            } else {
                for (int n = 0; n < 1 + random.nextInt(3); n++) {
                    bad[random.nextInt(bad.length)] = replacements[random.nextInt(replacements.length)];
                }
            }
            List<int[]> jackson;
            try {
                jackson = TraceDataset.parseWithJackson(bad, file, ModelCatalog.LLAMA4_MAVERICK);
            } catch (TraceFormatException e) {
                assertNull(FastTraceParser.parse(bad, ModelCatalog.LLAMA4_MAVERICK), "accepted what Jackson rejects: " + e.getMessage());
                rejected++;
                continue;
            }
            List<int[]> fast = FastTraceParser.parse(bad, ModelCatalog.LLAMA4_MAVERICK);
            if (fast != null) {
                assertEquals(jackson.size(), fast.size());
                for (int s = 0; s < fast.size(); s++) {
                    assertArrayEquals(jackson.get(s), fast.get(s));
                }
            }
        }
        assertEquals(true, rejected > 1000, "most mutations break the file: " + rejected);
    }
}
