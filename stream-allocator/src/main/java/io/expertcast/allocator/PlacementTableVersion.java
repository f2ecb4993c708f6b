package io.expertcast.allocator;

import java.util.ArrayList;
import java.util.List;

/**
 * Counts the rows the global placement store has taken from moe.placement in this JVM and keeps the
 * keys of the latest ones, so the planner and the command applier (stream threads) can bring their
 * cached tables up to date from the store (written by the global thread) by re-reading only the
 * rows that changed: a rebalance sends hundreds of commands, and re-reading the whole table (one row
 * per MoE layer and expert) after each would make applying them quadratic. Notification only: the
 * store is the table.
 */
final class PlacementTableVersion {
    /** Changes remembered; a reader further behind re-reads the whole table. */
    static final int JOURNAL = 1 << 16;
    private final String[] keys = new String[JOURNAL];
    private long version;

    /** Row {@code key} changed (change number {@code version + 1}). */
    synchronized void changed(String key) {
        keys[(int) (version % JOURNAL)] = key;
        version++;
    }

    synchronized long current() {
        return version;
    }

    /** Keys of changes {@code since + 1 .. upTo}, oldest first; null when the journal no longer has them all. */
    synchronized List<String> changedSince(long since, long upTo) {
        if (upTo - since > JOURNAL || upTo > version || since > upTo) {
            return null;
        }
        List<String> out = new ArrayList<>((int) (upTo - since));
        for (long n = since; n < upTo; n++) {
            out.add(keys[(int) (n % JOURNAL)]);
        }
        return out;
    }
}
