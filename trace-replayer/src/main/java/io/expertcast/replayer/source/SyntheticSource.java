package io.expertcast.replayer.source;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.core.trace.RequestTrace;
import java.util.Iterator;
import java.util.List;

/** Calibrated synthetic requests generated on the fly, so runs of any size need no files. */
public final class SyntheticSource implements TraceSource {
    private final SyntheticTraceGenerator generator;
    private final int requests;
    private final long seed;

    public SyntheticSource(ModelShape model, int requests, long seed) {
        if (requests <= 0) {
            throw new IllegalArgumentException("--requests must be positive for synthetic traces");
        }
        this.generator = new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), seed);
        this.requests = requests;
        this.seed = seed;
    }

    @Override
    public Iterator<RequestTrace> requests(boolean skipBad, List<String> skippedOut) {
        return generator.requests(requests);
    }

    @Override
    public int size() {
        return requests;
    }

    @Override
    public String describe() {
        return "synth " + generator.model().id() + " x " + requests + " (seed " + seed + ")";
    }
}
