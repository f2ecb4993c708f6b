package io.expertcast.predictor;

import io.expertcast.core.predict.LayerPopularity;
import io.expertcast.core.predict.TransitionRows;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Answers the request side's forecasting with the heatmaps last published (top rows, popularity).
 *
 * How the per-request side reads the global heatmaps: {@link PredictorTopology#GLOBAL_HEATMAPS_STORE},
 * a global store every instance builds from moe.heatmaps, through {@link ParsedHeatmapCache} (parsed once
 * per published snapshot, shared by the instance's tasks). Staleness: a heatmap seen here is at most
 * (heatmap publish interval + the topic's round trip) old; it never holds the record being processed
 * (that record reaches the aggregator through a repartition topic only after this task forwarded it).
 * Returned values are shared: callers must not modify them. One instance per processor (not thread-safe:
 * it keeps its own index of the tables by model and layer, so the two reads per layer and decode step
 * neither build a key nor look one up, until something is published).
 */
public final class PublishedHeatmapView {
    private final ReadOnlyKeyValueStore<String, byte[]> store;
    private final ParsedHeatmapCache published;
    /** This reader's own index of the shared parsed tables, dropped whenever anything was published. */
    private final Map<String, TransitionRows[]> tables = new HashMap<>();
    private final Map<String, LayerPopularity[]> popularity = new HashMap<>();
    private long seenVersion = -1;

    PublishedHeatmapView(ReadOnlyKeyValueStore<String, byte[]> store, ParsedHeatmapCache published) {
        this.store = store;
        this.published = published;
    }

    /**
     * The token->token table of a layer as last published: its top-rows snapshot (published at every
     * publication, unlike the whole table, and all the prediction reads); empty before any.
     */
    TransitionRows tokenTransitions(String model, int layer, int layers, int experts) {
        TransitionRows[] byLayer = current(tables).computeIfAbsent(model, m -> new TransitionRows[layers]);
        TransitionRows t = byLayer[layer];
        if (t == null) {
            t = published.get(HeatmapRecords.topRowsKey(model, layer, HeatmapKind.TOKEN_TO_TOKEN), this::stored,
                    s -> s == null || s.getNumExperts() != experts ? TransitionRows.empty(experts) : rows(s));
            byLayer[layer] = t;
        }
        return t;
    }

    /** Finished requests' counts at a layer, all requests; zeros before any. */
    LayerPopularity popularity(String model, int layer, int layers, int experts) {
        LayerPopularity[] byLayer = current(popularity).computeIfAbsent(model, m -> new LayerPopularity[layers]);
        LayerPopularity p = byLayer[layer];
        if (p == null) {
            p = popularity(model, layer, null, experts);
            byLayer[layer] = p;
        }
        return p;
    }

    /** Finished requests' counts at a layer, of one tag (null: all requests); zeros before any. */
    LayerPopularity popularity(String model, int layer, String tag, int experts) {
        return published.get(HeatmapRecords.popularityKey(model, layer, tag), this::stored,
                s -> new LayerPopularity(s == null || s.getNumExperts() != experts ? new double[experts]
                        : HeatmapRecords.toPopularity(s)));
    }

    /**
     * A snapshot's rows straight from its cells, without building the dense table: a row's total is its
     * cells summed in target order, as {@link HeatmapRecords#toTransitions} would total them, or for a
     * top-rows snapshot (v4) the whole row's total it carries, which is that same sum over the whole row, so
     * both give the same rows. Packed cells (every transition snapshot since v3) are read in one loop, a row
     * at a time; older snapshots through {@link HeatmapRecords#forEachCell}. Public for {@code bench aggregator}.
     */
    public static TransitionRows rows(HeatmapSnapshot s) {
        ByteBuffer packed = s.getCells();
        double[] totals = HeatmapRecords.isTopRows(s) ? HeatmapRecords.rowTotals(s) : null;
        if (packed != null && packed.remaining() > 0) {
            return packedRows(s.getNumExperts(), packed, totals);
        }
        return totals == null ? cellRows(s) : TransitionRows.empty(s.getNumExperts());
    }

    private static final VarHandle SHORTS = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle DOUBLES = MethodHandles.byteArrayViewVarHandle(double[].class, ByteOrder.LITTLE_ENDIAN);

    /**
     * The packed layout of {@link HeatmapRecords#forEachCell} (uint16 row, uint16 count, then count x
     * (uint16 target, float64 cell), little-endian), with its checks: a truncated row or an expert outside
     * the table is an {@link IllegalArgumentException}. Consecutive headers of one row make one row, as there.
     */
    private static TransitionRows packedRows(int experts, ByteBuffer packed, double[] totals) {
        byte[] b;
        int at;
        int end;
        if (packed.hasArray()) {
            b = packed.array();
            at = packed.arrayOffset() + packed.position();
            end = at + packed.remaining();
        } else {
            b = new byte[packed.remaining()];
            packed.duplicate().get(b);
            at = 0;
            end = b.length;
        }
        TransitionRows.Builder rows = new TransitionRows.Builder(experts);
        int[] targets = new int[experts];
        double[] cells = new double[experts];
        int row = -1;
        int size = 0;
        double total = 0;
        while (at < end) {
            if (end - at < 4) {
                throw new IllegalArgumentException("cells end inside a row header");
            }
            int from = Short.toUnsignedInt((short) SHORTS.get(b, at));
            int count = Short.toUnsignedInt((short) SHORTS.get(b, at + 2));
            at += 4;
            if (end - at < count * 10) {
                throw new IllegalArgumentException("cells end inside row " + from);
            }
            if (count == 0) {
                continue;
            }
            inTable(from, experts);
            if (from != row) {
                if (row >= 0) {
                    rows.row(row, totals == null ? total : totals[row], targets, cells, size);
                }
                row = from;
                size = 0;
                total = 0;
            }
            if (size + count > experts) {
                throw new IllegalArgumentException("row " + from + " has more than " + experts + " cells");
            }
            for (int i = 0; i < count; i++, at += 10) {
                double w = (double) DOUBLES.get(b, at + 2);
                targets[size] = inTable(Short.toUnsignedInt((short) SHORTS.get(b, at)), experts);
                cells[size++] = w;
                total += w;
            }
        }
        if (row >= 0) {
            rows.row(row, totals == null ? total : totals[row], targets, cells, size);
        }
        return rows.build();
    }

    private static int inTable(int expert, int experts) {
        if (expert >= experts) {
            throw new IllegalArgumentException("expert " + expert + " outside the table's " + experts);
        }
        return expert;
    }

    /**
     * Rows of a snapshot cell by cell: for the row layout (before v3); reads any snapshot. (Public for
     * {@code bench aggregator}: it was the only path before {@link #rows}' one loop over packed cells.)
     */
    public static TransitionRows cellRows(HeatmapSnapshot s) {
        int experts = s.getNumExperts();
        TransitionRows.Builder rows = new TransitionRows.Builder(experts);
        int[] targets = new int[experts];
        double[] cells = new double[experts];
        int[] row = {-1, 0}; // expert, cells so far
        double[] total = {0};
        HeatmapRecords.forEachCell(s, (from, to, w) -> {
            if (from != row[0]) {
                if (row[0] >= 0) {
                    rows.row(row[0], total[0], targets, cells, row[1]);
                }
                row[0] = from;
                row[1] = 0;
                total[0] = 0;
            }
            targets[row[1]] = to;
            cells[row[1]++] = w;
            total[0] += w;
        });
        if (row[0] >= 0) {
            rows.row(row[0], total[0], targets, cells, row[1]);
        }
        return rows.build();
    }

    /** {@code index}, emptied first if a snapshot was published since this reader last looked. */
    private <V> Map<String, V> current(Map<String, V> index) {
        long version = published.version();
        if (version != seenVersion) {
            tables.clear();
            popularity.clear();
            seenVersion = version;
        }
        return index;
    }

    private byte[] stored(String key) {
        return store.get(key);
    }
}
