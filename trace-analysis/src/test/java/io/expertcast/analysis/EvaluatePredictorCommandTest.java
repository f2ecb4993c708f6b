package io.expertcast.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class EvaluatePredictorCommandTest {
    @Test
    void jsonHasTheIssuesShape() throws Exception {
        PrintStream out = System.out;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            exit = new CommandLine(new EvaluatePredictorCommand()).execute("--traces", "../data/sample", "--n", "1,8",
                    "--format", "json");
        } finally {
            System.setOut(out);
        }
        assertEquals(0, exit);
        JsonNode json = new ObjectMapper().readTree(o.toString(StandardCharsets.UTF_8));
        assertEquals(List.of("n", "decode_plan", "next_token"), iterate(json));
        assertEquals(List.of("blended", "prefill_only", "popularity"), iterate(json.get("decode_plan")));
        assertEquals(List.of("blended", "recent", "token_heatmap", "popularity", "nearest_neighbour"),
                iterate(json.get("next_token")));
        assertEquals(2, json.get("next_token").get("recent").size());
    }

    private static List<String> iterate(JsonNode node) {
        List<String> names = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
