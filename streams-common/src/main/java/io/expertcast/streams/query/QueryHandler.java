package io.expertcast.streams.query;

/** Answers the GETs of one route; throws {@link QueryException} for an error status. */
@FunctionalInterface
public interface QueryHandler {
    QueryReply handle(QueryRequest request);
}
