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
    private final long stepNanos;
    private final LongSupplier nanoClock;
    private final Sleeper sleeper;
    private final long startedNanos;

    RatePacer(double tokensPerSecond, LongSupplier nanoClock, Sleeper sleeper) {
        this(tokensPerSecond, 0, nanoClock, sleeper);
    }

    /** Also an engine's pace: pass p is not due before {@code stepMs} x p after the start. */
    RatePacer(double tokensPerSecond, double stepMs, LongSupplier nanoClock, Sleeper sleeper) {
        this.tokensPerSecond = tokensPerSecond;
        this.stepNanos = stepMs > 0 ? (long) (stepMs * 1e6) : 0;
        this.nanoClock = nanoClock;
        this.sleeper = sleeper;
        this.startedNanos = nanoClock.getAsLong();
    }

    /** Waits until {@code tokensSent} are due; no wait when there is no cap. */
    void awaitDue(long tokensSent) {
        awaitDue(tokensSent, 0);
    }

    /**
     * Waits until {@code tokensSent} are due at the rate and, with a step time, until the pass after the
     * {@code passesSent} already sent is due; no wait with neither.
     */
    void awaitDue(long tokensSent, long passesSent) {
        long due = startedNanos;
        if (tokensPerSecond > 0) {
            due = Math.max(due, startedNanos + (long) (tokensSent / tokensPerSecond * 1e9));
        }
        if (stepNanos > 0) {
            due = Math.max(due, startedNanos + passesSent * stepNanos);
        }
        if (due == startedNanos) {
            return;
        }
        long wait = due - nanoClock.getAsLong();
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
