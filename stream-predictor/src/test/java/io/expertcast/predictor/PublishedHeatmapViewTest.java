package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.core.predict.TransitionRows;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapRow;
import io.expertcast.schemas.HeatmapSnapshot;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PublishedHeatmapViewTest {

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
            HeatmapSnapshot s = HeatmapRecords.ofTransitions("m", 0, HeatmapKind.TOKEN_TO_TOKEN, h, 0);
            // what the offline evaluation would read of the same counts
            TransitionRows offline = TransitionRows.of(HeatmapRecords.toTransitions(s, 0), 0);
            TransitionRows live = PublishedHeatmapView.rows(s);
            for (int e = 0; e < experts; e++) {
                double[] want = new double[experts];
                offline.addRow(e, want);
                double[] got = new double[experts];
                live.addRow(e, got);
                assertArrayEquals(want, got, 0.0, experts + " experts, row " + e);
            }
        }
    }

    @Test
    void aDenseTableAndARowLayoutSnapshotGiveTheOfflineRowsToo() {
        int experts = 256;
        SplittableRandom random = new SplittableRandom(5);
        TransitionHeatmap h = new TransitionHeatmap(1, experts, 50_000);
        for (int t = 0; t < 400_000; t++) {
            h.observe(0, random.nextInt(experts), random.nextInt(4) == 0 ? random.nextInt(8) : random.nextInt(experts));
            h.tick();
        }
        HeatmapSnapshot s = HeatmapRecords.ofTransitions("m", 0, HeatmapKind.TOKEN_TO_TOKEN, h, 0);
        assertRowsEqual(TransitionRows.of(HeatmapRecords.toTransitions(s, 0), 0), PublishedHeatmapView.rows(s), experts);

        // v2 and older: rows of targets and weights instead of packed cells
        TransitionHeatmap small = new TransitionHeatmap(1, 5);
        small.observe(0, 1, 4);
        small.observe(0, 1, 2);
        small.observe(0, 1, 4);
        small.observe(0, 3, 0);
        HeatmapSnapshot rowLayout = HeatmapSnapshot.newBuilder().setModel("m").setLayer(0)
                .setKind(HeatmapKind.TOKEN_TO_TOKEN).setNumExperts(5).setCells(null).setTotalMass(4).setTag(null)
                .setEventTimeMs(0).setRows(List.of(
                        HeatmapRow.newBuilder().setExpert(1).setTargets(List.of(2, 4)).setWeights(List.of(1.0, 2.0)).build(),
                        HeatmapRow.newBuilder().setExpert(3).setTargets(List.of(0)).setWeights(List.of(1.0)).build()))
                .build();
        assertRowsEqual(TransitionRows.of(small, 0), PublishedHeatmapView.rows(rowLayout), 5);
    }

    @Test
    void packedCellsOutsideTheTableOrCutShortAreRefusedAsBefore() {
        ByteBuffer outside = ByteBuffer.allocate(14).order(ByteOrder.LITTLE_ENDIAN);
        outside.putShort((short) 1).putShort((short) 1).putShort((short) 9).putDouble(2.0).flip(); // target 9 of 4
        HeatmapSnapshot bad = HeatmapSnapshot.newBuilder().setModel("m").setLayer(0).setKind(HeatmapKind.TOKEN_TO_TOKEN)
                .setNumExperts(4).setRows(List.of()).setCells(outside).setTotalMass(2).setTag(null).setEventTimeMs(0).build();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PublishedHeatmapView.rows(bad)).getMessage()
                .contains("expert 9 outside the table's 4"));
        HeatmapSnapshot cut = HeatmapSnapshot.newBuilder(bad).setCells(ByteBuffer.wrap(new byte[] {1, 0, 2, 0, 3, 0})).build();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PublishedHeatmapView.rows(cut)).getMessage()
                .contains("cells end inside row 1"));
        HeatmapSnapshot header = HeatmapSnapshot.newBuilder(bad).setCells(ByteBuffer.wrap(new byte[] {1, 0, 0})).build();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PublishedHeatmapView.rows(header)).getMessage()
                .contains("cells end inside a row header"));
    }

    /**
     * A top-rows snapshot (v4: each row's largest cells and the whole rows' totals) is what the next-token
     * prediction reads at every publication instead of the whole table: it must give the very same rows,
     * and the interactive queries the very same prediction tables, in far fewer bytes.
     */
    @Test
    void aTopRowsSnapshotGivesTheWholeTablesRowsAndPredictionTables() {
        var serde = io.expertcast.schemas.Topics.HEATMAPS.valueSerde();
        for (int experts : new int[] {8, 40, 256}) {
            for (double halfLife : new double[] {0, 300}) { // 0: integer counts, many ties at the 32nd cell
                SplittableRandom random = new SplittableRandom(experts + (long) halfLife);
                TransitionHeatmap h = new TransitionHeatmap(1, experts, halfLife);
                for (int t = 0; t < 60 * experts; t++) {
                    int from = random.nextInt(Math.max(1, experts - 3)); // some rows never seen
                    int to = random.nextInt(3) == 0 ? random.nextInt(experts) : (from * 7 + random.nextInt(50)) % experts;
                    h.observe(0, from, to);
                    h.tick();
                }
                HeatmapSnapshot whole = HeatmapRecords.ofTransitions("m", 0, HeatmapKind.TOKEN_TO_TOKEN, h, 7);
                HeatmapSnapshot top = HeatmapRecords.ofTopRows("m", 0, HeatmapKind.TOKEN_TO_TOKEN, h, 32, 7);
                byte[] topBytes = serde.serializer().serialize("t", top);
                HeatmapSnapshot back = serde.deserializer().deserialize("t", topBytes);
                String what = experts + " experts, half-life " + halfLife;
                assertTrue(HeatmapRecords.isTopRows(back) && !HeatmapRecords.isTopRows(whole), what);
                assertRowsEqual(PublishedHeatmapView.rows(whole), PublishedHeatmapView.rows(back), experts);
                for (int width : new int[] {1, 8, 32}) {
                    assertEquals(HeatmapRecords.table(whole, io.expertcast.schemas.PredictionLevel.TOKEN, width),
                            HeatmapRecords.table(back, io.expertcast.schemas.PredictionLevel.TOKEN, width),
                            what + ", width " + width);
                }
            }
        }
        // A dense DeepSeek-sized table (every cell seen): the top 32 of 256 per row are an eighth of the cells.
        TransitionHeatmap dense = new TransitionHeatmap(1, 256, 50_000);
        SplittableRandom random = new SplittableRandom(9);
        for (int t = 0; t < 400_000; t++) {
            dense.observe(0, random.nextInt(256), random.nextInt(256));
            dense.tick();
        }
        int wholeBytes = serde.serializer().serialize("t",
                HeatmapRecords.ofTransitions("m", 0, HeatmapKind.TOKEN_TO_TOKEN, dense, 0)).length;
        int topBytes = serde.serializer().serialize("t",
                HeatmapRecords.ofTopRows("m", 0, HeatmapKind.TOKEN_TO_TOKEN, dense, 32, 0)).length;
        assertTrue(topBytes * 7 < wholeBytes, topBytes + " vs " + wholeBytes);
    }

    @Test
    void topRowsWithRowTotalsThatDoNotFitTheTableAreNotUsable() {
        TransitionHeatmap h = new TransitionHeatmap(1, 4);
        h.observe(0, 1, 2);
        HeatmapSnapshot top = HeatmapRecords.ofTopRows("m", 0, HeatmapKind.TOKEN_TO_TOKEN, h, 32, 0);
        HeatmapSnapshot shortTotals = HeatmapSnapshot.newBuilder(top).setRowTotals(ByteBuffer.wrap(new byte[12])).build();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PublishedHeatmapView.rows(shortTotals)).getMessage()
                .contains("row totals hold 12 bytes, not 8 for each of 4 experts"));
        // read through the topic's bytes: logged and read as no table, never a stopped thread
        byte[] bytes = io.expertcast.schemas.Topics.HEATMAPS.valueSerde().serializer().serialize("t", shortTotals);
        TransitionRows read = HeatmapRecords.parseOrEmpty("m/0/TOKEN_TO_TOKEN/top", bytes,
                s -> s == null ? null : PublishedHeatmapView.rows(s));
        assertEquals(null, read);
    }

    private static void assertRowsEqual(TransitionRows want, TransitionRows got, int experts) {
        for (int e = 0; e < experts; e++) {
            double[] a = new double[experts];
            want.addRow(e, a);
            double[] b = new double[experts];
            got.addRow(e, b);
            for (int j = 0; j < experts; j++) {
                assertEquals(Double.doubleToRawLongBits(a[j]), Double.doubleToRawLongBits(b[j]), "row " + e + " -> " + j);
            }
        }
    }
}
