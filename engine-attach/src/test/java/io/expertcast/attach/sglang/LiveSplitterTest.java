package io.expertcast.attach.sglang;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.attach.standin.RecorderStandIn;
import io.expertcast.attach.standin.SimulatedEngine;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.sglang.RecorderDump;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.SelectionEvent;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LiveSplitterTest {
    @TempDir
    Path dir;

    @Test
    void requestsCutByWindowEdgesContinueAsTheSameRequest() throws Exception {
        SimulatedEngine engine = new SimulatedEngine(SimulatedEngine.Shape.small(), 3);
        ModelShape model = ModelCatalog.parseShape(engine.shape().modelSpec("standin"));
        try (RecorderStandIn standIn = RecorderStandIn.start(engine, dir, RecorderStandIn.Mode.PER_TOKEN, 1, 0)) {
            standIn.startRecording();
            LiveSplitter splitter = new LiveSplitter(model, "src");
            List<SelectionEvent> events = new ArrayList<>();
            List<ForwardPass> passes = new ArrayList<>();
            int continued = 0;
            for (int window : new int[] {3, 1, 5, 2, 8, 4}) {
                standIn.run(window);
                Path file = standIn.dump().get(0);
                // through a restore from the checkpointed state, as a restarted attach would
                splitter = LiveSplitter.restore(model, "src", splitter.state());
                LiveSplitter.WindowReport[] report = new LiveSplitter.WindowReport[1];
                for (LiveSplitter.Published p : splitter.window((RecorderDump.PerToken) RecorderDump.read(file), 0, report)) {
                    passes.add(p.pass());
                    events.addAll(p.selections());
                }
                continued += report[0].continuedRequests();
            }
            splitter.closeAll().forEach(p -> {
                passes.add(p.pass());
                events.addAll(p.selections());
            });
            assertTrue(continued > 0, "some request spans two windows");
            Truth.assertSame(Truth.expected(standIn.dumpedPasses(), List.of(), "src"), Truth.actual(events));
            assertEquals(standIn.dumpedPasses().size(), passes.size());
            for (int i = 0; i < passes.size(); i++) {
                assertEquals(i, passes.get(i).getPassId());
            }
        }
    }

    @Test
    void aPhysicalIdOutsideTheMapIsABadWindow() throws Exception {
        SimulatedEngine engine = new SimulatedEngine(SimulatedEngine.Shape.small(), 3);
        ModelShape model = ModelCatalog.parseShape(engine.shape().modelSpec("standin"));
        LiveSplitter splitter = new LiveSplitter(model, "src");
        Path bad = Path.of("../trace-replayer/src/test/resources/sglang/bad/outside_map.pt");
        RecorderDump dump = RecorderDump.read(bad);
        ModelShape fixtureModel = ModelCatalog.parseShape("fixture:4:1,2,3:12:4");
        IOException e = assertThrows(IOException.class, () -> new LiveSplitter(fixtureModel, "src")
                .window((RecorderDump.PerToken) dump, 0, null));
        assertTrue(e.getMessage().contains("outside last_physical_to_logical_map"), e.getMessage());
        assertEquals(0, splitter.openRequests());
    }
}
