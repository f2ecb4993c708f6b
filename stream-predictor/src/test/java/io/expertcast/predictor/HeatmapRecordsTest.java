package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapRow;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.Topics;
import java.util.List;
import org.junit.jupiter.api.Test;

class HeatmapRecordsTest {

    @Test
    void aSmallTableRoundTripsExactly() {
        TransitionHeatmap h = new TransitionHeatmap(1, 5);
        h.observe(0, 0, 4);
        h.observe(0, 0, 4);
        h.observe(0, 3, 1);
        HeatmapSnapshot s = HeatmapRecords.ofTransitions("m", 2, HeatmapKind.TOKEN_TO_TOKEN, h, 7);
        assertEquals(3.0, s.getTotalMass());
        assertEquals(h, HeatmapRecords.toTransitions(s, 0));
        assertArrayEquals(new double[] {0, 2, 0, 0, 3}, HeatmapRecords.toPopularity(
                HeatmapRecords.ofPopularity("m", 2, "b:mmlu", new double[] {0, 2, 0, 0, 3}, 7)));
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
        HeatmapSnapshot s = HeatmapRecords.ofTransitions("m", 0, HeatmapKind.TOKEN_TO_TOKEN, h, 0);
        int[] cells = new int[1];
        double[] row5Min = {Double.MAX_VALUE};
        int[] row5Cells = new int[1];
        HeatmapRecords.forEachCell(s, (from, to, w) -> {
            cells[0]++;
            if (from == 5) {
                row5Cells[0]++;
                row5Min[0] = Math.min(row5Min[0], w);
            }
        });
        assertTrue(cells[0] <= HeatmapRecords.MAX_CELLS && cells[0] > HeatmapRecords.MAX_CELLS / 2, "cells " + cells[0]);
        int[] top = h.successors(0, 5, row5Cells[0]);
        assertEquals(h.count(0, 5, top[top.length - 1]), row5Min[0], 0.0);
        byte[] bytes = Topics.HEATMAPS.valueSerde().serializer().serialize(Topics.HEATMAPS.name(), s);
        assertTrue(bytes.length < 1_000_000, bytes.length + " bytes");
    }

    @Test
    void aDense256TableGoesWholeInOneRecord() {
        int experts = 256; // DeepSeek-V3
        TransitionHeatmap h = new TransitionHeatmap(1, experts, 500);
        for (int i = 0; i < experts; i++) {
            for (int j = 0; j < experts; j++) {
                h.add(0, i, j, 0.5 + (i * 31 + j * 17) % 97);
            }
            h.tick();
        }
        HeatmapSnapshot s = HeatmapRecords.ofTransitions("m", 0, HeatmapKind.TOKEN_TO_TOKEN, h, 0);
        byte[] bytes = Topics.HEATMAPS.valueSerde().serializer().serialize(Topics.HEATMAPS.name(), s);
        assertTrue(bytes.length < 1_000_000, bytes.length + " bytes");
        HeatmapSnapshot back = Topics.HEATMAPS.valueSerde().deserializer().deserialize(Topics.HEATMAPS.name(), bytes);
        TransitionHeatmap read = HeatmapRecords.toTransitions(back, 0);
        for (int i = 0; i < experts; i++) {
            for (int j = 0; j < experts; j++) {
                assertEquals(h.count(0, i, j), read.count(0, i, j), 0.0, i + "->" + j);
            }
        }
    }

    @Test
    void aWholeTableIsWrittenInOnePassToTheVeryBytesOfTheGeneralPath() {
        var serializer = Topics.HEATMAPS.valueSerde().serializer();
        for (int experts : new int[] {1, 7, 256, 300}) {
            for (double halfLife : new double[] {0, 123.25}) {
                java.util.SplittableRandom random = new java.util.SplittableRandom(experts);
                TransitionHeatmap h = new TransitionHeatmap(1, experts, halfLife);
                for (int t = 0; t < 20_000; t++) {
                    int from = random.nextInt(Math.max(1, experts - 2)); // some rows never seen
                    h.observe(0, from, random.nextInt(3) == 0 ? random.nextInt(experts) : (from * 5) % experts);
                    h.tick();
                }
                if (experts > 1) {
                    h.add(0, 0, 1, -h.count(0, 0, 1) - 0.5); // a negative cell: dropped by both
                }
                byte[] want = serializer.serialize("t", HeatmapRecords.ofLargestCells("m", 3, HeatmapKind.LAYER_TO_LAYER, h, 9));
                byte[] got = serializer.serialize("t", HeatmapRecords.ofTransitions("m", 3, HeatmapKind.LAYER_TO_LAYER, h, 9));
                assertArrayEquals(want, got, experts + " experts, half-life " + halfLife);
            }
        }
    }

    @Test
    void aSnapshotWithRowsAsWrittenUpToV2StillReads() {
        HeatmapSnapshot v2 = HeatmapSnapshot.newBuilder().setModel("m").setLayer(0).setKind(HeatmapKind.TOKEN_TO_TOKEN)
                .setNumExperts(4).setTotalMass(5).setTag(null).setEventTimeMs(0)
                .setRows(List.of(HeatmapRow.newBuilder().setExpert(1).setTargets(List.of(0, 3))
                        .setWeights(List.of(2.0, 3.0)).build()))
                .build();
        TransitionHeatmap h = HeatmapRecords.toTransitions(v2, 0);
        assertEquals(2.0, h.count(0, 1, 0));
        assertEquals(3.0, h.count(0, 1, 3));
        assertEquals(5.0, h.rowTotal(0, 1));
    }

    @Test
    void aSnapshotThatIsNotUsableReadsAsNoneInsteadOfStoppingTheReader() {
        java.util.function.Function<HeatmapSnapshot, String> parse =
                x -> x == null ? "none" : "rows " + HeatmapRecords.toTransitions(x, 0).rowTotal(0, 1);
        byte[] garbage = {1, 2, 3};
        assertEquals("none", HeatmapRecords.parseOrEmpty("m/0/TOKEN_TO_TOKEN", garbage, parse));
        assertEquals("none", HeatmapRecords.parseOrEmpty("m/0/TOKEN_TO_TOKEN", null, parse));

        java.nio.ByteBuffer outside = java.nio.ByteBuffer.allocate(14).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        outside.putShort((short) 1).putShort((short) 1).putShort((short) 9).putDouble(2.0).flip(); // target 9 of 4
        HeatmapSnapshot bad = HeatmapSnapshot.newBuilder().setModel("m").setLayer(0).setKind(HeatmapKind.TOKEN_TO_TOKEN)
                .setNumExperts(4).setRows(List.of()).setCells(outside).setTotalMass(2).setTag(null).setEventTimeMs(0).build();
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> HeatmapRecords.toTransitions(bad, 0));
        assertTrue(e.getMessage().contains("expert 9 outside the table's 4"), e.getMessage());
        byte[] badBytes = Topics.HEATMAPS.valueSerde().serializer().serialize(Topics.HEATMAPS.name(), bad);
        assertEquals("none", HeatmapRecords.parseOrEmpty("m/0/TOKEN_TO_TOKEN", badBytes, parse));

        java.nio.ByteBuffer truncated = java.nio.ByteBuffer.wrap(new byte[] {1, 0, 2, 0, 3, 0});
        HeatmapSnapshot cut = HeatmapSnapshot.newBuilder(bad).setCells(truncated).build();
        assertTrue(org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> HeatmapRecords.toTransitions(cut, 0)).getMessage().contains("cells end inside row 1"));

        TransitionHeatmap good = new TransitionHeatmap(1, 4);
        good.observe(0, 1, 2);
        byte[] goodBytes = Topics.HEATMAPS.valueSerde().serializer().serialize(Topics.HEATMAPS.name(),
                HeatmapRecords.ofTransitions("m", 0, HeatmapKind.TOKEN_TO_TOKEN, good, 0));
        assertEquals("rows 1.0", HeatmapRecords.parseOrEmpty("m/0/TOKEN_TO_TOKEN", goodBytes, parse));
    }
}
