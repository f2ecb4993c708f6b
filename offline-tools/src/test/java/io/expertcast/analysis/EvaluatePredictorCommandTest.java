package io.expertcast.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.core.testing.ConsoleCapture;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class EvaluatePredictorCommandTest {
    @Test
    void jsonHasTheIssuesShape() throws Exception {
        ConsoleCapture.Run run = ConsoleCapture.run(() -> new CommandLine(new EvaluatePredictorCommand()).execute(
                "--traces", "../data/sample", "--n", "1,8", "--format", "json"));
        assertEquals(0, run.exit(), run.err());
        JsonNode json = new ObjectMapper().readTree(run.out());
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
