package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapRow;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.Topics;
import org.junit.jupiter.api.Test;

class HeatmapSnapshotsTest {

    @Test
    void aSmallTableRoundTripsExactly() {
        TransitionHeatmap h = new TransitionHeatmap(1, 5);
        h.observe(0, 0, 4);
        h.observe(0, 0, 4);
        h.observe(0, 3, 1);
        HeatmapSnapshot s = HeatmapSnapshots.ofTransitions("m", 2, HeatmapKind.TOKEN_TO_TOKEN, h, 7);
        assertEquals(3.0, s.getTotalMass());
        assertEquals(h, HeatmapSnapshots.toTransitions(s, 0));
        assertArrayEquals(new double[] {0, 2, 0, 0, 3}, HeatmapSnapshots.toPopularity(
                HeatmapSnapshots.ofPopularity("m", 2, "b:mmlu", new double[] {0, 2, 0, 0, 3}, 7)));
    }

    @Test
    void aDenseLargeTableKeepsEachRowsLargestCellsAndFitsOneRecord() {
        int experts = 384; // Kimi-K2: 147456 cells dense
        TransitionHeatmap h = new TransitionHeatmap(1, experts);
        for (int i = 0; i < experts; i++) {
            for (int j = 0; j < experts; j++) {
                h.add(0, i, j, 1 + (i * 31 + j * 17) % 97);
            }
        }
        HeatmapSnapshot s = HeatmapSnapshots.ofTransitions("m", 0, HeatmapKind.TOKEN_TO_TOKEN, h, 0);
        int cells = s.getRows().stream().mapToInt(r -> r.getTargets().size()).sum();
        assertTrue(cells <= HeatmapSnapshots.MAX_CELLS && cells > HeatmapSnapshots.MAX_CELLS / 2, "cells " + cells);
        HeatmapRow row = s.getRows().get(5);
        int[] top = h.successors(0, 5, row.getTargets().size());
        assertEquals(h.count(0, 5, top[top.length - 1]),
                row.getWeights().stream().mapToDouble(Double::doubleValue).min().orElseThrow(), 0.0);
        byte[] bytes = Topics.HEATMAPS.valueSerde().serializer().serialize(Topics.HEATMAPS.name(), s);
        assertTrue(bytes.length < 1_000_000, bytes.length + " bytes");
    }
}
