package io.expertcast.predictor;

import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapRow;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictionLevel;
import io.expertcast.schemas.PredictionTable;
import io.expertcast.schemas.SuccessorRow;
import io.expertcast.schemas.Topics;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns counted heatmaps into moe.heatmaps / moe.prediction-tables records and keys, and back.
 *
 * The global heatmaps of one MoE layer as records: {@link HeatmapSnapshot} (moe.heatmaps, and the
 * aggregator's own store) and {@link PredictionTable} (moe.prediction-tables), and back. Keys:
 * {@code model/layer/KIND}, and {@code model/layer/POPULARITY/tag} for a tag's popularity. A POPULARITY
 * snapshot has one row, expert -1, whose targets are the experts and weights their counts.
 */
public final class HeatmapRecords {
    private static final Logger LOG = LoggerFactory.getLogger(HeatmapRecords.class);

    private HeatmapRecords() {
    }

    /** A moe.heatmaps value as the global store holds it (the topic's bytes). */
    public static HeatmapSnapshot decode(byte[] bytes) {
        return Topics.HEATMAPS.valueSerde().deserializer().deserialize(Topics.HEATMAPS.name(), bytes);
    }

    /**
     * {@code parse} of a published snapshot (null bytes: of null), or of null when the bytes are not a
     * snapshot this reader can use (undecodable, cells outside the table): moe.heatmaps is a public topic,
     * and a bad record there must neither stop a stream thread nor feed it wrong counts. Logged, once per
     * snapshot: readers parse each snapshot once.
     */
    static <T> T parseOrEmpty(String key, byte[] bytes, Function<HeatmapSnapshot, T> parse) {
        if (bytes == null) {
            return parse.apply(null);
        }
        try {
            return parse.apply(decode(bytes));
        } catch (RuntimeException e) {
            LOG.warn("moe.heatmaps {}: not a usable snapshot, read as none ({})", key, e.toString());
            return parse.apply(null);
        }
    }

    public static String key(String model, int layer, HeatmapKind kind) {
        return model + "/" + layer + "/" + kind;
    }

    /**
     * The key of a transition table's top-rows snapshot ({@link #ofTopRows}), beside its whole table's
     * {@link #key}: {@code model/layer/KIND/top}.
     */
    public static String topRowsKey(String model, int layer, HeatmapKind kind) {
        return key(model, layer, kind) + "/top";
    }

    static String popularityKey(String model, int layer, String tag) {
        return tag == null ? key(model, layer, HeatmapKind.POPULARITY) : key(model, layer, HeatmapKind.POPULARITY) + "/" + tag;
    }

    static String tableKey(String model, int layer, PredictionLevel level) {
        return model + "/" + layer + "/" + level;
    }

    /**
     * Most cells a snapshot carries: 10 bytes each packed, so a snapshot stays under Kafka's default 1 MB
     * record limit while a dense 256 x 256 table (DeepSeek-V3, Qwen3) goes whole; beyond it (Kimi-K2's
     * 384 x 384) each row keeps only its largest cells (the ones a prediction reads).
     */
    public static final int MAX_CELLS = 90_000;

    /**
     * Layer {@code layer} of a one-layer transition heatmap: its non-zero decayed counts, packed in
     * {@code cells} (see the schema; rows in expert order, targets ascending).
     */
    public static HeatmapSnapshot ofTransitions(String model, int layer, HeatmapKind kind, TransitionHeatmap h, long timeMs) {
        int experts = h.experts();
        return experts * experts <= MAX_CELLS ? ofAllCells(model, layer, kind, h, timeMs)
                : ofLargestCells(model, layer, kind, h, timeMs);
    }

    /**
     * {@link #ofTransitions} for a table of any size: counts the non-zero cells first, and if there are more
     * than {@link #MAX_CELLS} keeps each row's largest. (Public for {@code bench aggregator}: it was the
     * only path before the one-pass {@code ofAllCells}.)
     */
    public static HeatmapSnapshot ofLargestCells(String model, int layer, HeatmapKind kind, TransitionHeatmap h, long timeMs) {
        int experts = h.experts();
        double[] c = h.counts(0);
        int nonZero = 0;
        int rowsSeen = 0;
        for (int from = 0; from < experts; from++) {
            boolean any = false;
            for (int to = 0; to < experts; to++) {
                if (c[from * experts + to] != 0) {
                    nonZero++;
                    any = true;
                }
            }
            rowsSeen += any ? 1 : 0;
        }
        int perRow = nonZero <= MAX_CELLS ? experts : Math.max(1, MAX_CELLS / Math.max(1, rowsSeen));
        ByteBuffer cells = ByteBuffer.allocate(rowsSeen * 4 + Math.min(nonZero, rowsSeen * perRow) * 10)
                .order(ByteOrder.LITTLE_ENDIAN);
        double mass = 0;
        for (int from = 0; from < experts; from++) {
            double floor = perRow >= experts ? 0 : kthLargest(c, from * experts, experts, perRow);
            int countAt = -1;
            int count = 0;
            for (int to = 0; to < experts && count < perRow; to++) {
                double w = c[from * experts + to];
                if (w != 0 && w >= floor) {
                    if (countAt < 0) {
                        cells.putShort((short) from);
                        countAt = cells.position();
                        cells.putShort((short) 0);
                    }
                    cells.putShort((short) to).putDouble(w);
                    count++;
                    mass += w;
                }
            }
            if (countAt >= 0) {
                cells.putShort(countAt, (short) count);
            }
        }
        cells.flip();
        return snapshot(model, layer, kind, experts, cells, mass, timeMs);
    }

    private static final VarHandle SHORTS = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle DOUBLES = MethodHandles.byteArrayViewVarHandle(double[].class, ByteOrder.LITTLE_ENDIAN);

    /**
     * {@link #ofTransitions} of a table small enough to go whole (up to 300 experts: DeepSeek-V3, Qwen3),
     * the same bytes in one pass, a row at a time, instead of copying the table and counting it first.
     */
    private static HeatmapSnapshot ofAllCells(String model, int layer, HeatmapKind kind, TransitionHeatmap h,
                                              long timeMs) {
        int experts = h.experts();
        byte[] out = new byte[experts * 4 + experts * experts * 10];
        double[] row = new double[experts];
        int size = 0;
        double mass = 0;
        for (int from = 0; from < experts; from++) {
            h.rowCounts(0, from, row);
            int header = size;
            int at = size + 4;
            for (int to = 0; to < experts; to++) {
                double w = row[to];
                if (w > 0) { // what the general path keeps: w != 0 && w >= its floor of 0
                    SHORTS.set(out, at, (short) to);
                    DOUBLES.set(out, at + 2, w);
                    at += 10;
                    mass += w;
                }
            }
            if (at > header + 4) {
                SHORTS.set(out, header, (short) from);
                SHORTS.set(out, header + 2, (short) ((at - header - 4) / 10));
                size = at;
            }
        }
        return snapshot(model, layer, kind, experts, ByteBuffer.wrap(Arrays.copyOf(out, size)), mass, timeMs);
    }

    /**
     * A top-rows snapshot of a one-layer transition table: each row's {@code width} largest cells (ties: the
     * lower target, as {@link TransitionHeatmap#topSuccessors} picks them), packed as {@link #ofTransitions}
     * packs a whole table (targets ascending), and every row's whole total in {@code rowTotals}: the cells of
     * the row summed in target order, the very total a reader of the whole table's snapshot computes. So a
     * reader keeping up to {@code width} successors per row gets from it exactly what it gets from the whole
     * table ({@link PublishedHeatmapView#rows}), in a sixth of a DeepSeek-V3 table's bytes at width 32.
     * {@code totalMass} is the sum of the row totals.
     */
    public static HeatmapSnapshot ofTopRows(String model, int layer, HeatmapKind kind, TransitionHeatmap h, int width,
                                            long timeMs) {
        int experts = h.experts();
        int w = Math.max(1, Math.min(width, experts));
        byte[] out = new byte[experts * (4 + w * 10)];
        byte[] totals = new byte[experts * 8];
        double[] row = new double[experts];
        int[] top = new int[w];
        int size = 0;
        double mass = 0;
        for (int from = 0; from < experts; from++) {
            h.rowCounts(0, from, row);
            double total = 0;
            int kept = 0;
            for (int to = 0; to < experts; to++) {
                double c = row[to];
                if (!(c > 0)) { // what a whole table's snapshot keeps
                    continue;
                }
                total += c;
                int i;
                if (kept < w) {
                    i = kept++;
                } else if (row[top[w - 1]] < c) {
                    i = w - 1;
                } else {
                    continue;
                }
                while (i > 0 && row[top[i - 1]] < c) {
                    top[i] = top[i - 1];
                    i--;
                }
                top[i] = to;
            }
            DOUBLES.set(totals, from * 8, total);
            mass += total;
            if (kept == 0) {
                continue;
            }
            Arrays.sort(top, 0, kept); // targets ascending, as in a whole table's rows
            SHORTS.set(out, size, (short) from);
            SHORTS.set(out, size + 2, (short) kept);
            size += 4;
            for (int i = 0; i < kept; i++, size += 10) {
                SHORTS.set(out, size, (short) top[i]);
                DOUBLES.set(out, size + 2, row[top[i]]);
            }
        }
        return HeatmapSnapshot.newBuilder(snapshot(model, layer, kind, experts, ByteBuffer.wrap(Arrays.copyOf(out, size)),
                mass, timeMs)).setRowTotals(ByteBuffer.wrap(totals)).build();
    }

    /** Whether a snapshot holds only its rows' largest cells, with the whole rows' totals ({@link #ofTopRows}). */
    public static boolean isTopRows(HeatmapSnapshot s) {
        return s.getRowTotals() != null && s.getRowTotals().remaining() > 0;
    }

    /**
     * The row totals of a top-rows snapshot, one per expert; an {@link IllegalArgumentException} when there is
     * not exactly one little-endian float64 per expert.
     */
    static double[] rowTotals(HeatmapSnapshot s) {
        ByteBuffer b = s.getRowTotals().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() != s.getNumExperts() * 8) {
            throw new IllegalArgumentException("row totals hold " + b.remaining() + " bytes, not 8 for each of "
                    + s.getNumExperts() + " experts");
        }
        double[] totals = new double[s.getNumExperts()];
        b.asDoubleBuffer().get(totals);
        return totals;
    }

    private static HeatmapSnapshot snapshot(String model, int layer, HeatmapKind kind, int experts, ByteBuffer cells,
                                            double mass, long timeMs) {
        return HeatmapSnapshot.newBuilder().setModel(model).setLayer(layer).setKind(kind).setNumExperts(experts)
                .setRows(List.of()).setCells(cells).setTotalMass(mass).setTag(null).setEventTimeMs(timeMs).build();
    }

    private static double kthLargest(double[] c, int from, int length, int k) {
        double[] row = Arrays.copyOfRange(c, from, from + length);
        Arrays.sort(row);
        return row[Math.max(0, length - k)];
    }

    /** A one-layer heatmap holding a snapshot's counts (decaying from now on with the given half-life). */
    static TransitionHeatmap toTransitions(HeatmapSnapshot s, double halfLifeTokens) {
        TransitionHeatmap h = new TransitionHeatmap(1, s.getNumExperts(), halfLifeTokens);
        forEachCell(s, (from, to, w) -> h.add(0, from, to, w));
        return h;
    }

    /** What {@link #forEachCell} hands over: one non-zero cell. */
    public interface CellVisitor {
        void cell(int from, int to, double weight);
    }

    /** Every cell of a snapshot, packed (v3 transitions) or in rows (popularity; anything older), in row order. */
    public static void forEachCell(HeatmapSnapshot s, CellVisitor visitor) {
        ByteBuffer cells = s.getCells();
        if (cells != null && cells.remaining() > 0) {
            ByteBuffer b = cells.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) {
                if (b.remaining() < 4) {
                    throw new IllegalArgumentException("cells end inside a row header");
                }
                int from = Short.toUnsignedInt(b.getShort());
                int count = Short.toUnsignedInt(b.getShort());
                if (b.remaining() < count * 10) {
                    throw new IllegalArgumentException("cells end inside row " + from);
                }
                for (int i = 0; i < count; i++) {
                    int to = Short.toUnsignedInt(b.getShort());
                    visitor.cell(inTable(s, from), inTable(s, to), b.getDouble());
                }
            }
            return;
        }
        for (HeatmapRow row : s.getRows()) {
            List<Integer> targets = row.getTargets();
            List<Double> weights = row.getWeights();
            if (weights.size() != targets.size()) {
                throw new IllegalArgumentException("row " + row.getExpert() + " has " + targets.size() + " targets and "
                        + weights.size() + " weights");
            }
            for (int i = 0; i < targets.size(); i++) {
                visitor.cell(row.getExpert(), inTable(s, targets.get(i)), weights.get(i));
            }
        }
    }

    private static int inTable(HeatmapSnapshot s, int expert) {
        if (expert < 0 || expert >= s.getNumExperts()) {
            throw new IllegalArgumentException("expert " + expert + " outside the table's " + s.getNumExperts());
        }
        return expert;
    }

    static HeatmapSnapshot ofPopularity(String model, int layer, String tag, double[] counts, long timeMs) {
        List<Integer> targets = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        double mass = 0;
        for (int e = 0; e < counts.length; e++) {
            if (counts[e] != 0) {
                targets.add(e);
                weights.add(counts[e]);
                mass += counts[e];
            }
        }
        return HeatmapSnapshot.newBuilder().setModel(model).setLayer(layer).setKind(HeatmapKind.POPULARITY)
                .setNumExperts(counts.length)
                .setRows(List.of(HeatmapRow.newBuilder().setExpert(-1).setTargets(targets).setWeights(weights).build()))
                .setTotalMass(mass).setTag(tag).setEventTimeMs(timeMs).build();
    }

    static double[] toPopularity(HeatmapSnapshot s) {
        double[] counts = new double[s.getNumExperts()];
        forEachCell(s, (from, to, w) -> counts[to] += w);
        return counts;
    }

    /**
     * The prediction table of a published transition snapshot (token level from TOKEN_TO_TOKEN, layer
     * level from LAYER_TO_LAYER): what moe.prediction-tables carried for it, for interactive queries.
     */
    public static PredictionTable table(HeatmapSnapshot s, PredictionLevel level, int width) {
        if (!isTopRows(s)) {
            return table(s.getModel(), s.getLayer(), level, toTransitions(s, 0), width, s.getEventTimeMs());
        }
        // The kept cells over their whole rows' totals: the whole table's probabilities, for up to as many
        // successors as the snapshot kept per row.
        double[] totals = rowTotals(s);
        return table(s.getModel(), s.getLayer(), level, toTransitions(s, 0), width, s.getEventTimeMs(),
                from -> totals[from]);
    }

    /** Per expert seen, its {@code width} most likely successors and their probabilities (row share). */
    public static PredictionTable table(String model, int layer, PredictionLevel level, TransitionHeatmap h, int width,
                                 long timeMs) {
        return table(model, layer, level, h, width, timeMs, from -> h.rowTotal(0, from));
    }

    /** {@link #table} with each row's share taken of {@code rowTotal} (a top-rows snapshot's whole rows). */
    private static PredictionTable table(String model, int layer, PredictionLevel level, TransitionHeatmap h, int width,
                                         long timeMs, java.util.function.IntToDoubleFunction rowTotal) {
        List<SuccessorRow> rows = new ArrayList<>();
        int[] top = new int[Math.max(0, Math.min(width, h.experts()))];
        for (int from = 0; from < h.experts(); from++) {
            double total = rowTotal.applyAsDouble(from);
            if (total == 0) {
                continue;
            }
            int m = h.topSuccessors(0, from, top.length, top);
            List<Integer> successors = new ArrayList<>(m);
            List<Double> probabilities = new ArrayList<>(m);
            for (int i = 0; i < m; i++) {
                int j = top[i];
                successors.add(j);
                probabilities.add(h.count(0, from, j) / total);
            }
            rows.add(SuccessorRow.newBuilder().setExpert(from).setSuccessors(successors)
                    .setProbabilities(probabilities).build());
        }
        return PredictionTable.newBuilder().setModel(model).setLayer(layer).setLevel(level).setRows(rows)
                .setEventTimeMs(timeMs).build();
    }
}
