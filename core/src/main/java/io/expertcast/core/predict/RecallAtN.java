package io.expertcast.core.predict;

/**
 * Accumulates the accuracy of predictions: one sample per (request, decode step, MoE layer); its hits
 * are the distinct selected experts that were predicted, its selected count is k, its predicted count
 * is the size of the prediction. recall = hits / (samples x k); precision = hits / predicted; hit
 * rate = share of samples with at least one hit. Mutable; merge partial results with {@link #add(RecallAtN)}.
 */
public final class RecallAtN {
    private long samples;
    private long hits;
    private long selected;
    private long requests;
    private long predicted;
    private long hitSamples;

    public RecallAtN() {
    }

    public RecallAtN(long samples, long hits, long selected, long requests) {
        this(samples, hits, selected, requests, 0, 0);
    }

    public RecallAtN(long samples, long hits, long selected, long requests, long predicted, long hitSamples) {
        this.samples = samples;
        this.hits = hits;
        this.selected = selected;
        this.requests = requests;
        this.predicted = predicted;
        this.hitSamples = hitSamples;
    }

    /** One (request, decode step, MoE layer) sample of a prediction of {@code predictedCount} experts. */
    public void addSample(int sampleHits, int k, int predictedCount) {
        if (sampleHits < 0 || sampleHits > k || sampleHits > predictedCount) {
            throw new IllegalArgumentException("hits " + sampleHits + " outside [0, min(k=" + k + ", predicted="
                    + predictedCount + ")]");
        }
        samples++;
        hits += sampleHits;
        selected += k;
        predicted += predictedCount;
        if (sampleHits > 0) {
            hitSamples++;
        }
    }

    /** One more request that got a plan. */
    public void addRequest() {
        requests++;
    }

    public void add(RecallAtN other) {
        samples += other.samples;
        hits += other.hits;
        selected += other.selected;
        requests += other.requests;
        predicted += other.predicted;
        hitSamples += other.hitSamples;
    }

    public long samples() {
        return samples;
    }

    public long hits() {
        return hits;
    }

    public long selected() {
        return selected;
    }

    public long requests() {
        return requests;
    }

    public long predicted() {
        return predicted;
    }

    public long hitSamples() {
        return hitSamples;
    }

    /** hits / predicted, or 0 before any prediction. */
    public double precision() {
        return predicted == 0 ? 0.0 : (double) hits / predicted;
    }

    /** Share of samples with at least one hit, or 0 before any sample. */
    public double hitRate() {
        return samples == 0 ? 0.0 : (double) hitSamples / samples;
    }

    /** hits / selected, or 0 before any sample. */
    public double recall() {
        return selected == 0 ? 0.0 : (double) hits / selected;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecallAtN r && samples == r.samples && hits == r.hits && selected == r.selected
                && requests == r.requests && predicted == r.predicted && hitSamples == r.hitSamples;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(samples) * 31 + Long.hashCode(hits);
    }

    @Override
    public String toString() {
        return String.format("recall=%.4f precision=%.4f hitRate=%.4f (hits=%d selected=%d predicted=%d samples=%d"
                + " requests=%d)", recall(), precision(), hitRate(), hits, selected, predicted, samples, requests);
    }
}
