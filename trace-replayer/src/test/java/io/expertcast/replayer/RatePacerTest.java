package io.expertcast.replayer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rate cap on a simulated clock: the long-run rate is the cap, whatever the pass sizes and stalls. */
class RatePacerTest {
    private long now;

    @Test
    void tokensGoOutAtTheCappedRateOverTheRun() {
        List<Long> sleeps = new ArrayList<>();
        RatePacer pacer = new RatePacer(1000, () -> now, nanos -> {
            sleeps.add(nanos);
            now += nanos;
        });
        long sent = 0;
        int[] passSizes = {1, 300, 1, 1, 64, 4096, 1, 1};
        for (int i = 0; i < 2000; i++) {
            pacer.awaitDue(sent);
            now += 50_000; // 50 us to send a pass
            sent += passSizes[i % passSizes.length];
        }
        pacer.awaitDue(sent);
        double rate = sent / (now / 1e9);
        assertEquals(1000, rate, 1000 * 0.05, "tokens per second over the run");
    }

    @Test
    void aStallIsCaughtUpAndNoCapMeansNoWait() {
        RatePacer pacer = new RatePacer(100, () -> now, nanos -> now += nanos);
        pacer.awaitDue(0);
        now += 2_000_000_000L; // a 2 s stall after nothing was sent
        long before = now;
        pacer.awaitDue(150); // 150 tokens were due at 1.5 s: no wait
        assertEquals(before, now);
        pacer.awaitDue(300); // due at 3 s
        assertEquals(3_000_000_000L, now);
        RatePacer unlimited = new RatePacer(0, () -> now, nanos -> {
            throw new AssertionError("no cap, no sleep");
        });
        unlimited.awaitDue(1_000_000);
    }

    @Test
    void passesGoOutAStepApartAndTheSlowerOfRateAndStepWins() {
        RatePacer paced = new RatePacer(0, 30, () -> now, nanos -> now += nanos);
        List<Long> sentAt = new ArrayList<>();
        for (long passes = 0; passes < 100; passes++) {
            paced.awaitDue(passes * 8, passes);
            sentAt.add(now);
            now += 1_000_000; // 1 ms to send a pass
        }
        for (int p = 1; p < sentAt.size(); p++) {
            assertEquals(30_000_000L, sentAt.get(p) - sentAt.get(p - 1), "pass " + p + " one step after the last");
        }
        now = 0;
        // 1,000 tokens per pass at 10,000 tokens/s: 100 ms per pass, slower than the 30 ms step
        RatePacer both = new RatePacer(10_000, 30, () -> now, nanos -> now += nanos);
        both.awaitDue(1000, 1);
        assertEquals(100_000_000L, now);
    }
}
