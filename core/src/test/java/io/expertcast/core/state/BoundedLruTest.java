package io.expertcast.core.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BoundedLruTest {
    @Test
    void keepsAtMostMaxEntriesEvictingTheLeastRecentlyUsedAndCountsThem() {
        List<String> evicted = new ArrayList<>();
        BoundedLru<String, Integer> lru = new BoundedLru<>(3, 0, (k, v) -> evicted.add(k + "=" + v));
        for (int i = 0; i < 500; i++) {
            lru.get("tag0", i); // tag0 stays in use
            lru.computeIfAbsent("tag" + i, i, k -> 0);
        }
        assertEquals(3, lru.size());
        assertEquals(Set.of("tag0", "tag498", "tag499"), lru.keys());
        assertEquals(497, lru.evictedBySize());
        assertEquals(497, evicted.size());
        assertEquals("tag1=0", evicted.get(0));
        assertEquals("tag497=0", evicted.get(evicted.size() - 1));
        assertNull(lru.peek("tag1"));
    }

    @Test
    void expiresKeysUntouchedForLongerThanTheTtl() {
        List<String> evicted = new ArrayList<>();
        BoundedLru<String, String> lru = new BoundedLru<>(100, 1_000, (k, v) -> evicted.add(k));
        lru.put("a", "x", 0);
        lru.put("b", "y", 500);
        assertEquals(0, lru.expire(1_000));
        assertEquals(1, lru.expire(1_001));
        assertEquals(List.of("a"), evicted);
        lru.get("b", 2_000);
        assertEquals(0, lru.expire(2_900));
        assertEquals(1, lru.evictedByAge());
        assertEquals(0, lru.evictedBySize());
        assertEquals(1, lru.evictions());
    }
}
