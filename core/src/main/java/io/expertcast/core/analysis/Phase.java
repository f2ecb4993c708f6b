package io.expertcast.core.analysis;

/** Which tokens of a request an observation is taken over: step 0 (prefill) or steps 1.. (decode). */
public enum Phase {
    PREFILL, DECODE;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
