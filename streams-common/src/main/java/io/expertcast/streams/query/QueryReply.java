package io.expertcast.streams.query;

import com.fasterxml.jackson.databind.JsonNode;

/** An HTTP status and a JSON body. */
public record QueryReply(int status, JsonNode body) {
    public static QueryReply ok(JsonNode body) {
        return new QueryReply(200, body);
    }
}
