package io.expertcast.core.predict;

/**
 * Accumulates recall@n of decode plans: one sample per (request, decode step, MoE layer); its hits are
 * the distinct selected experts that were planned, its selected count is k. recall = total hits /
 * (samples x k). Mutable; merge partial results with {@link #add(RecallAtN)}.
 */
public final class RecallAtN {
    private long samples;
    private long hits;
    private long selected;
    private long requests;

    public RecallAtN() {
    }

    public RecallAtN(long samples, long hits, long selected, long requests) {
        this.samples = samples;
        this.hits = hits;
        this.selected = selected;
        this.requests = requests;
    }

    /** One (request, decode step, MoE layer) sample. */
    public void addSample(int sampleHits, int k) {
        if (sampleHits < 0 || sampleHits > k) {
            throw new IllegalArgumentException("hits " + sampleHits + " outside [0, k=" + k + "]");
        }
        samples++;
        hits += sampleHits;
        selected += k;
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

    /** hits / selected, or 0 before any sample. */
    public double recall() {
        return selected == 0 ? 0.0 : (double) hits / selected;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecallAtN r && samples == r.samples && hits == r.hits && selected == r.selected
                && requests == r.requests;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(samples) * 31 + Long.hashCode(hits);
    }

    @Override
    public String toString() {
        return String.format("recall=%.4f (hits=%d selected=%d samples=%d requests=%d)", recall(), hits, selected,
                samples, requests);
    }
}
