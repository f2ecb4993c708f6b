package io.expertcast.core.wafer;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.source.TraceSource;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The paper's workload, decode only (case study): each request of a source enters the batch with
 * just its last prefill token (the token whose selections precede its first decode token, so the
 * heatmap predictor has a previous token) and then its decode steps, at most {@code maxDecodeSteps}
 * of them; requests without a decode step are dropped. Capping the steps at the number of passes
 * simulated changes nothing inside those passes (a request admitted at pass 0 runs at most
 * passes - 1 decode steps in them) and keeps memory at batch x passes tokens.
 */
public final class DecodeOnlySource implements TraceSource {
    private final TraceSource source;
    private final int maxDecodeSteps;
    private final ModelCatalog catalog;

    /**
     * @param maxDecodeSteps decode steps kept per request; {@code <= 0}: all
     * @param catalog        where the shapes of models the dataset reader inferred are registered, so
     *                       the emulator finds them by id
     */
    public DecodeOnlySource(TraceSource source, int maxDecodeSteps, ModelCatalog catalog) {
        this.source = source;
        this.maxDecodeSteps = maxDecodeSteps <= 0 ? Integer.MAX_VALUE : maxDecodeSteps;
        this.catalog = catalog;
    }

    @Override
    public Iterator<RequestTrace> requests(boolean skipBad, List<String> skippedOut) {
        Iterator<RequestTrace> in = source.requests(skipBad, skippedOut);
        return new Iterator<>() {
            private RequestTrace next;

            @Override
            public boolean hasNext() {
                while (next == null && in.hasNext()) {
                    next = decodeOnly(in.next());
                }
                return next != null;
            }

            @Override
            public RequestTrace next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                RequestTrace r = next;
                next = null;
                return r;
            }
        };
    }

    private RequestTrace decodeOnly(RequestTrace r) {
        if (catalog.byId(r.model().id()).isEmpty()) {
            catalog.register(r.model());
        }
        if (r.numDecodeSteps() == 0) {
            return null;
        }
        int perToken = r.model().numMoeLayers() * r.model().topK();
        int[] prefill = r.steps().get(0);
        List<int[]> steps = new ArrayList<>();
        steps.add(java.util.Arrays.copyOfRange(prefill, prefill.length - perToken, prefill.length));
        int decode = Math.min(r.numDecodeSteps(), maxDecodeSteps);
        steps.addAll(r.steps().subList(1, 1 + decode));
        return new RequestTrace(r.model(), r.requestId(), r.benchmark(), r.subject(), r.language(), steps);
    }

    @Override
    public int size() {
        return -1;
    }

    @Override
    public String describe() {
        return source.describe() + " (decode only)";
    }
}
