package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.core.predict.TransitionRows;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GlobalHeatmapsTest {

    @Test
    void rowsParsedStraightFromTheCellsAreTheOfflineTablesRows() {
        for (int experts : new int[] {8, 40, 256}) {
            SplittableRandom random = new SplittableRandom(experts);
            TransitionHeatmap h = new TransitionHeatmap(1, experts, 300);
            for (int t = 0; t < 4000; t++) {
                // skewed successors, ties among small counts, some rows never seen
                int from = random.nextInt(Math.max(1, experts - 3));
                int to = random.nextInt(4) == 0 ? random.nextInt(experts) : (from * 7 + random.nextInt(3)) % experts;
                h.observe(0, from, to);
                h.tick();
            }
            HeatmapSnapshot s = HeatmapSnapshots.ofTransitions("m", 0, HeatmapKind.TOKEN_TO_TOKEN, h, 0);
            // what the offline evaluation would read of the same counts
            TransitionRows offline = TransitionRows.of(HeatmapSnapshots.toTransitions(s, 0), 0);
            TransitionRows live = GlobalHeatmaps.rows(s);
            for (int e = 0; e < experts; e++) {
                double[] want = new double[experts];
                offline.addRow(e, want);
                double[] got = new double[experts];
                live.addRow(e, got);
                assertArrayEquals(want, got, 0.0, experts + " experts, row " + e);
            }
        }
    }
}
