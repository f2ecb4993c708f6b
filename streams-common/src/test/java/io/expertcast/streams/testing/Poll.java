package io.expertcast.streams.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waits for a condition by polling, never by a fixed sleep. */
public final class Poll {
    private Poll() {
    }

    public static void until(Duration timeout, BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            Thread.sleep(50);
        }
    }
}
