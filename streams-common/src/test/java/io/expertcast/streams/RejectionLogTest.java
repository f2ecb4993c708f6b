package io.expertcast.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Issue 19 item 7: one line per kind of rejection per interval, with the count, not one per record. */
class RejectionLogTest {
    @Test
    void tenThousandRejectionsOfTwoKindsAreTwoLinesPerInterval() {
        List<String> lines = new ArrayList<>();
        RejectionLog log = new RejectionLog(lines::add, 0);
        for (int i = 0; i < 10_000; i++) {
            log.rejected("expertcast-predictor", "moe.selections", "expert id " + (200 + i % 50)
                    + " out of range (model llama4-maverick has 128 experts) at position " + i, 0, i);
            if (i % 10 == 0) {
                log.rejected("expertcast-predictor", "moe.selections", "unknown model 'm" + i + "'", 1, i);
            }
        }
        assertEquals(2, log.flush(30_000));
        assertEquals(2, lines.size());
        String outOfRange = lines.stream().filter(l -> l.contains("out of range")).findFirst().orElseThrow();
        assertTrue(outOfRange.startsWith("expertcast-predictor: 10000 record(s) of moe.selections to the dead letters"
                + " in the last 30 s (10000 since start) at offsets 0..9999; latest reason: expert id 249"), outOfRange);
        assertTrue(lines.stream().anyMatch(l -> l.contains(": 1000 record(s)") && l.contains("unknown model 'm9990'")),
                lines.toString());
        assertEquals(0, log.flush(60_000), "nothing new, nothing written");
        log.rejected("expertcast-allocator", "moe.passes", "forward pass 3 has 0 tokens", 0, 7);
        assertEquals(1, log.flush(90_000));
        assertTrue(lines.get(2).contains("1 record(s) of moe.passes") && lines.get(2).contains("(1 since start) at offset 7"),
                lines.get(2));
        assertEquals(11_001, log.total());
    }

    @Test
    void reasonsThatNeverRepeatShareOneKindBeyondTheLimit() {
        List<String> lines = new ArrayList<>();
        RejectionLog log = new RejectionLog(lines::add, 0);
        for (int i = 0; i < 5 * RejectionLog.MAX_KINDS; i++) {
            log.rejected("app", "t", "garbage " + Integer.toHexString(i * 7919).replaceAll("[0-9]", "x") + " ends", 0, i);
        }
        assertTrue(log.flush(1_000) <= RejectionLog.MAX_KINDS + 1, "the kinds (and memory) are bounded");
    }
}
