package io.expertcast.core.trace.source;

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

    /**
     * All requests, each with only what a decode-only run of {@code maxDecodeSteps} passes reads (its
     * last prefill token and first decode steps, equal to the full request's), generated on
     * {@code threads} threads (requests are independent; the list is in dataset order).
     */
    public List<RequestTrace> decodeOnly(int maxDecodeSteps, int threads) {
        RequestTrace[] out = new RequestTrace[requests];
        java.util.concurrent.ForkJoinPool pool = new java.util.concurrent.ForkJoinPool(Math.max(1, threads));
        try {
            pool.submit(() -> java.util.stream.IntStream.range(0, requests).parallel()
                    .forEach(i -> out[i] = generator.request(i, requests, maxDecodeSteps, true))).join();
        } finally {
            pool.shutdown();
        }
        return java.util.Arrays.asList(out);
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
