package io.expertcast.streams.query;

import java.util.List;
import java.util.Map;

/**
 * One GET the server routes: the path segments after the route's prefix, the query parameters, and
 * the raw path and query (what a forward to the owning instance repeats).
 *
 * @param segments  path segments after the route's prefix (URL-decoded, no empty ones)
 * @param params    query parameters (last value wins)
 * @param pathAndQuery the request's raw path and query string
 * @param forwarded whether another instance forwarded it (then it is answered here or not at all)
 */
public record QueryRequest(List<String> segments, Map<String, String> params, String pathAndQuery, boolean forwarded) {

    /** The parameter, or {@code fallback} when absent. */
    public String param(String name, String fallback) {
        return params.getOrDefault(name, fallback);
    }

    /** The parameter as an int; a malformed one is a 400. */
    public int intParam(String name, int fallback) {
        String value = params.get(name);
        if (value == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw QueryException.badRequest("parameter " + name + " must be an integer, got '" + value + "'");
        }
    }
}
