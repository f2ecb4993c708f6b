package io.expertcast.replayer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.source.SyntheticSource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.streams.pass.ScheduledPass;

/** The source id a replay stamps: --source, else --replay-id, else a generated one. */
class ReplaySourceIdTest {

    private static ReplayOptions options(String replayId, String source) {
        return new ReplayOptions("127.0.0.1:1", null, 2, 0, 0, false, 256, replayId, 7, source);
    }

    @Test
    void theSourceIsGivenElseTheReplayIdElseGenerated() {
        assertEquals("engine-1", options("run-1", "engine-1").withResolvedSource().sourceId());
        assertEquals("run-1", options("run-1", null).withResolvedSource().sourceId());
        String generated = options(null, null).withResolvedSource().sourceId();
        assertTrue(generated.matches("replay-[0-9a-f]{8}"), generated);
        assertNotEquals(generated, options(null, null).withResolvedSource().sourceId());
    }

    @Test
    void everyEventAndPassCarriesTheSource() {
        var requests = new SyntheticSource(ModelCatalog.standard().byId("llama4-maverick").orElseThrow(), 3, 5)
                .requests(false, new ArrayList<>());
        List<ScheduledPass> passes = new ArrayList<>();
        new BatchScheduler(requests, 2, 256, () -> 0L, BatchScheduler.Resume.NONE, "engine-7")
                .forEachRemaining(passes::add);
        assertTrue(passes.size() > 2);
        for (ScheduledPass p : passes) {
            assertEquals("engine-7", p.pass().getSource());
            p.selections().forEach(e -> assertEquals("engine-7", e.getSource()));
        }
    }

    @Test
    void aSourceWithTheKeySeparatorIsAUsageError() {
        int code = new CommandLine(new ReplayCommand()).execute("--synth", "llama4-maverick", "--requests", "1",
                "--bootstrap", "127.0.0.1:1", "--source", "a/b");
        assertEquals(2, code);
    }
}
