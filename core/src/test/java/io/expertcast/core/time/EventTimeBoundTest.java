package io.expertcast.core.time;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class EventTimeBoundTest {
    private static final long NOW = 1_800_000_000_000L;
    private final EventTimeBound bound = new EventTimeBound(Duration.ofMinutes(1));

    @Test
    void admitsThePastAndTheBoundAheadRejectsFurther() {
        assertTrue(bound.admits(0, NOW), "a replay of old traces");
        assertTrue(bound.admits(NOW + 60_000, NOW));
        assertFalse(bound.admits(NOW + 60_001, NOW));
        assertNull(bound.problem(NOW, NOW));
        String reason = bound.problem(NOW + Duration.ofHours(24).toMillis(), NOW);
        assertTrue(reason.contains("86400 s ahead") && reason.contains("60 s"), reason);
    }

    @Test
    void clampsToTheBound() {
        assertEquals(NOW - 5, bound.clamp(NOW - 5, NOW));
        assertEquals(NOW + 60_000, bound.clamp(NOW + Duration.ofHours(24).toMillis(), NOW));
        assertThrows(IllegalArgumentException.class, () -> new EventTimeBound(Duration.ofMillis(-1)));
    }
}
