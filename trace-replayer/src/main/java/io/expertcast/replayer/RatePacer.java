package io.expertcast.replayer;

import java.util.function.LongSupplier;

/**
 * Holds a replay to a token rate: before each pass, waits until the tokens already sent are due at
 * the rate, counted from the start, so short stalls are caught up and the long-run rate is exact
 * (a single pass may still go out as a burst: its tokens are one forward pass).
 */
final class RatePacer {
    /** Sleeps for the given nanoseconds (a seam for tests). */
    interface Sleeper {
        void sleepNanos(long nanos) throws InterruptedException;
    }

    private final double tokensPerSecond;
    private final LongSupplier nanoClock;
    private final Sleeper sleeper;
    private final long startedNanos;

    RatePacer(double tokensPerSecond, LongSupplier nanoClock, Sleeper sleeper) {
        this.tokensPerSecond = tokensPerSecond;
        this.nanoClock = nanoClock;
        this.sleeper = sleeper;
        this.startedNanos = nanoClock.getAsLong();
    }

    /** Waits until {@code tokensSent} are due; no wait when there is no cap. */
    void awaitDue(long tokensSent) {
        if (tokensPerSecond <= 0) {
            return;
        }
        long wait = startedNanos + (long) (tokensSent / tokensPerSecond * 1e9) - nanoClock.getAsLong();
        if (wait > 0) {
            try {
                sleeper.sleepNanos(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("replay interrupted", e);
            }
        }
    }
}
