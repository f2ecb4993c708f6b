package io.expertcast.streams.query;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.streams.StreamsTestData;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AvroJsonTest {

    @Test
    void recordsBecomePlainJsonWithUnionsUnwrappedEnumsAsSymbolsAndBytesAsBase64() {
        SelectionEvent event = SelectionEvent.newBuilder(StreamsTestData.selection("r1", 0, 0, 1, 7, 0, 5))
                .setBenchmark("mmlu").setSubject(null).build();
        JsonNode json = AvroJson.toJson(event);
        assertEquals("r1", json.get("requestId").asText());
        assertEquals("PREFILL", json.get("phase").asText());
        assertEquals(7L, json.get("passId").asLong());
        assertEquals("mmlu", json.get("benchmark").asText(), "a union holding a string is the string");
        assertTrue(json.get("subject").isNull());
        byte[] ids = Base64.getDecoder().decode(json.get("expertIds").asText());
        assertEquals(24 * 2, ids.length);
        assertEquals(5, ids[0]);
    }

    @Test
    void collectionsAndMapsNest() {
        JsonNode json = AvroJson.toJson(Map.of("layers", List.of(List.of(1, 2), List.of(3))));
        assertEquals(3, json.get("layers").get(1).get(0).asInt());
        assertTrue(AvroJson.toJson(null).isNull());
    }
}
