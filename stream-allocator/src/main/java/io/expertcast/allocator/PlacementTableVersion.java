package io.expertcast.allocator;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts the rows the global placement store has taken from moe.placement in this JVM, so the
 * planner and the command applier (stream threads) know when to re-read their cached tables from
 * the store (written by the global thread). Notification only: the store is the table.
 */
final class PlacementTableVersion {
    private final AtomicLong version = new AtomicLong();

    void changed() {
        version.incrementAndGet();
    }

    long current() {
        return version.get();
    }
}
