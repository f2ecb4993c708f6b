package io.expertcast.allocator;

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

class PlaceCommandTest {
    /** SGLang's DeepSeek-V3 decode load (61 layers x 256 experts, layers 0-2 dense), bundled. */
    private static final String LOAD = "../data/sample/sglang-ep-stats/deepseek-v3/decode_in1000out1000.json";

    @TempDir
    Path temp;


    private static Run run(String... args) {
        return ConsoleCapture.run(() -> new CommandLine(new PlaceCommand()).setCaseInsensitiveEnumValuesAllowed(true)
                .execute(args));
    }

    @Test
    void eplbWithReplicasBalancesTheRealDeepSeekLoadFarBetterThanContiguousPlacement() throws Exception {
        Run eplb = run("--load", LOAD, "--dies", "16", "--replicas", "32", "--groups", "8", "--nodes", "2", "--format", "json");
        assertEquals(0, eplb.exit(), eplb.err());
        JsonNode json = new ObjectMapper().readTree(eplb.out());
        assertEquals(58, json.get("layers").size(), "the three dense layers carry no load");
        assertEquals(288, json.get("phy2log").get(0).size());
        int replicas = 0;
        for (JsonNode c : json.get("logcnt").get(0)) {
            replicas += c.asInt();
        }
        assertEquals(288, replicas);
        Run even = run("--policy", "even", "--load", LOAD, "--dies", "16", "--format", "json");
        double evenBalance = new ObjectMapper().readTree(even.out()).get("max_over_mean_load").asDouble();
        double eplbBalance = json.get("max_over_mean_load").asDouble();
        assertTrue(eplbBalance < 1.1 && evenBalance > 2, "eplb " + eplbBalance + ", even " + evenBalance);
    }

    @Test
    void aLoadFileOfTheWrongShapeOrImpossibleCountsAreClearErrors() throws Exception {
        Path bad = temp.resolve("bad.json");
        Files.writeString(bad, "{\"logical_count\": [[1, 2, 3], [4, 5]]}");
        Run shape = run("--load", bad.toString(), "--dies", "2");
        assertEquals(2, shape.exit());
        assertTrue(shape.err().contains("bad.json: logical_count row 1 is not a list of 3 counts"), shape.err());
        Files.writeString(bad, "{\"counts\": []}");
        assertTrue(run("--load", bad.toString(), "--dies", "2").err().contains("expected {\"logical_count\""));
        Run uneven = run("--load", LOAD, "--dies", "16", "--replicas", "8");
        assertEquals(2, uneven.exit());
        assertTrue(uneven.err().contains("264 physical experts (256 + 8 redundant) do not split evenly over 16 dies"),
                uneven.err());
    }
}
