package io.expertcast.streams.query;

/** A query the server answers with an HTTP error status and a JSON {@code {"error": message}}. */
public final class QueryException extends RuntimeException {
    private final int status;

    public QueryException(int status, String message) {
        super(message);
        this.status = status;
    }

    public int status() {
        return status;
    }

    /** 400: a parameter the caller got wrong. */
    public static QueryException badRequest(String message) {
        return new QueryException(400, message);
    }

    /** 404: no such thing (request, model, store). */
    public static QueryException notFound(String message) {
        return new QueryException(404, message);
    }

    /** 503: the state is moving (rebalancing, restoring, starting); the caller should retry. */
    public static QueryException unavailable(String message) {
        return new QueryException(503, message);
    }
}
