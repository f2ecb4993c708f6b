package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The counter runs its work in order, shows it after a drain, bounds what waits, and passes a failure on. */
class HeatmapCounterTest {
    @Test
    void workRunsInOrderAndIsVisibleAfterADrain() {
        List<Integer> seen = new ArrayList<>(); // written by the counter's thread only
        try (HeatmapCounter counter = new HeatmapCounter("t")) {
            for (int i = 0; i < 1000; i++) {
                int n = i;
                counter.submit(() -> seen.add(n));
            }
            counter.drain();
            assertEquals(1000, seen.size());
            for (int i = 0; i < 1000; i++) {
                assertEquals(i, seen.get(i));
            }
        }
    }

    @Test
    void atMostMaxPendingWaitAndTheNextSubmitWaitsForRoom() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (HeatmapCounter counter = new HeatmapCounter("t")) {
            for (int i = 0; i < HeatmapCounter.MAX_PENDING; i++) {
                counter.submit(() -> {
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            CountDownLatch submitted = new CountDownLatch(1);
            Thread producer = new Thread(() -> {
                counter.submit(() -> { });
                submitted.countDown();
            });
            producer.start();
            assertTrue(!submitted.await(300, TimeUnit.MILLISECONDS), "a submit past the bound waits");
            release.countDown();
            assertTrue(submitted.await(30, TimeUnit.SECONDS), "and goes on once there is room");
            producer.join();
        }
    }

    @Test
    void aFailureReachesTheStreamThread() {
        try (HeatmapCounter counter = new HeatmapCounter("t")) {
            counter.submit(() -> {
                throw new IllegalArgumentException("bad lesson");
            });
            IllegalStateException e = assertThrows(IllegalStateException.class, counter::drain);
            assertTrue(e.getMessage().contains("bad lesson"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> counter.submit(() -> { }));
        }
    }
}
