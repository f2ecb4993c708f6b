package io.expertcast.core.time;

import java.time.Duration;

/**
 * How far a record's event time may run ahead of the wall clock. Event time drives expiry (a request
 * idle for N minutes of event time is given up), so one record stamped a day ahead (a producer with a
 * wrong clock, a corrupt field) would make every other request look idle and expire it. A record
 * further ahead than the bound is rejected (to the dead letters), or, where a record cannot be
 * rejected, its time is clamped to the bound; either way it never moves an expiry clock further than
 * {@code wall clock + maxAhead}. Time behind the wall clock is always fine (replays of old traces).
 */
public final class EventTimeBound {
    /** Generous for clock skew between an engine's host and the services, small against idle timeouts. */
    public static final Duration DEFAULT_MAX_AHEAD = Duration.ofMinutes(1);
    public static final EventTimeBound DEFAULT = new EventTimeBound(DEFAULT_MAX_AHEAD);

    private final long maxAheadMs;

    public EventTimeBound(Duration maxAhead) {
        if (maxAhead == null || maxAhead.isNegative()) {
            throw new IllegalArgumentException("the event-time bound must be >= 0, got " + maxAhead);
        }
        this.maxAheadMs = maxAhead.toMillis();
    }

    public Duration maxAhead() {
        return Duration.ofMillis(maxAheadMs);
    }

    /** Whether {@code eventTimeMs} is at most the bound ahead of {@code wallClockMs}. */
    public boolean admits(long eventTimeMs, long wallClockMs) {
        return eventTimeMs - wallClockMs <= maxAheadMs;
    }

    /** The reason a record with this event time is rejected, or null when it is admitted. */
    public String problem(long eventTimeMs, long wallClockMs) {
        if (admits(eventTimeMs, wallClockMs)) {
            return null;
        }
        return "event time " + eventTimeMs + " is " + (eventTimeMs - wallClockMs) / 1000 + " s ahead of the wall clock ("
                + wallClockMs + "), more than the bound of " + maxAheadMs / 1000 + " s";
    }

    /** The event time, or the latest admitted one ({@code wallClockMs + maxAhead}) when it is further ahead. */
    public long clamp(long eventTimeMs, long wallClockMs) {
        return admits(eventTimeMs, wallClockMs) ? eventTimeMs : wallClockMs + maxAheadMs;
    }
}
