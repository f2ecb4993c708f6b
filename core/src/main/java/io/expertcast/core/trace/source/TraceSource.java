package io.expertcast.core.trace.source;

import io.expertcast.core.trace.RequestTrace;
import java.util.Iterator;
import java.util.List;

/** Requests to replay, from one place: a dataset folder, a JSON-lines file or the synthetic generator. */
public interface TraceSource {
    /** The requests, in the source's order (dataset order for a folder); skipped bad ones are added to {@code skippedOut}. */
    Iterator<RequestTrace> requests(boolean skipBad, List<String> skippedOut);

    /** How many requests it holds, or -1 when only reading them tells (a JSON-lines file). */
    int size();

    /** For messages and the replay summary, e.g. {@code traces data/sample}. */
    String describe();

    /** Requests already in memory (recovered, generated or picked), described as {@code description}. */
    static TraceSource of(List<RequestTrace> requests, String description) {
        return new TraceSource() {
            @Override
            public Iterator<RequestTrace> requests(boolean skipBad, List<String> skippedOut) {
                return requests.iterator();
            }

            @Override
            public int size() {
                return requests.size();
            }

            @Override
            public String describe() {
                return description;
            }
        };
    }
}
