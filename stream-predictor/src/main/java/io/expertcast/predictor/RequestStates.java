package io.expertcast.predictor;

import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.PrefillHeatmap;
import io.expertcast.core.predict.RequestHistory;
import io.expertcast.schemas.RequestForecastState;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.util.List;

/**
 * A request's prefill as {@link RequestForecastState} holds it, in one of two forms: dense (the prefill
 * heatmap, the history's counts and decayed cells: ~197 KB for DeepSeek-V3, whatever the prompt's length) or,
 * while that is smaller, the prefill tokens' ids themselves (928 bytes a DeepSeek-V3 token: 26 KB for the
 * median prompt of the calibrated workload), from which the heatmap and the history are counted again, bit for
 * bit (the same adds in the same order as when the chunks arrived). The state is written at every prefill
 * chunk and read at the first decode step, so its size is what a burst of new requests costs the stream
 * thread (serialization, RocksDB, the changelog). Public for the interactive queries.
 */
public final class RequestStates {
    /** Bytes a dense state takes per (MoE layer, expert) cell: an int32 count and a float64 decayed count. */
    static final int DENSE_BYTES_PER_CELL = 12;

    private RequestStates() {
    }

    /** Whether {@code prefillTokens} tokens are kept as ids: while they take no more bytes than the dense form. */
    static boolean keptAsIds(ModelShape shape, long prefillTokens) {
        long idBytes = prefillTokens * shape.numMoeLayers() * shape.topK() * 2;
        return idBytes <= (long) shape.numMoeLayers() * shape.numExperts() * DENSE_BYTES_PER_CELL;
    }

    /** The prefill's heatmap; an empty one for a state without prefill. */
    public static PrefillHeatmap heatmap(ModelShape shape, RequestForecastState state) {
        if (state.getPrefillIds().hasRemaining()) {
            PrefillHeatmap heatmap = new PrefillHeatmap(shape.numMoeLayers(), shape.numExperts(), shape.topK());
            heatmap.add(prefillIds(state));
            return heatmap;
        }
        List<Integer> list = state.getHeatmap();
        int[] counts = new int[list.size()];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = list.get(i);
        }
        return PrefillHeatmap.of(shape.numMoeLayers(), shape.numExperts(), shape.topK(), counts,
                state.getPrefillTokens());
    }

    /** The request's last prefill token, ids [moe layer][k]; null before its first. */
    static int[] lastToken(RequestForecastState state) {
        return state.getLastToken().isEmpty() ? null
                : state.getLastToken().stream().mapToInt(Integer::intValue).toArray();
    }

    /** The request's own history as of its state; an empty one for no state (or one written before histories). */
    static RequestHistory history(ModelShape shape, RequestForecastState state) {
        int layers = shape.numMoeLayers();
        if (state != null && state.getPrefillIds().hasRemaining()) {
            RequestHistory history = new RequestHistory(layers, shape.numExperts(), shape.topK());
            int[] ids = prefillIds(state);
            int perToken = layers * shape.topK();
            for (int t = 0; t < ids.length / perToken; t++) {
                history.observe(ids, t * perToken);
            }
            return history;
        }
        if (state == null || state.getHistoryCounts().remaining() == 0) {
            return new RequestHistory(layers, shape.numExperts(), shape.topK());
        }
        int cells = layers * shape.numExperts();
        int[] c = new int[cells];
        double[] d = new double[cells];
        state.getHistoryCounts().duplicate().order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(c);
        DoubleBuffer decayed = state.getHistoryDecayed().duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
        decayed.get(d);
        // The cells' unit follows them, then the layers' kept totals (written by dense); a state written
        // before has no unit (1) or no totals (summed from the cells).
        double scale = decayed.hasRemaining() ? decayed.get() : 1;
        double[] totals = null;
        if (decayed.remaining() >= layers) {
            totals = new double[layers];
            decayed.get(totals);
        }
        return RequestHistory.of(layers, shape.numExperts(), shape.topK(), c, d, totals, scale,
                state.getHistoryTokens());
    }

    /**
     * The prefill after a chunk into {@code b}: {@code previous} the state before it (null at the first chunk),
     * {@code chunkIds} its ids, {@code heatmap} and {@code history} as counted with it. As ids while
     * {@link #keptAsIds} and the state before was (a prefill that outgrew them stays dense).
     */
    static RequestForecastState.Builder withPrefill(RequestForecastState.Builder b, ModelShape shape,
                                                    RequestForecastState previous, int[] chunkIds,
                                                    PrefillHeatmap heatmap, RequestHistory history, boolean compact) {
        boolean wasIds = previous == null || previous.getPrefillIds().hasRemaining();
        if (compact && wasIds && keptAsIds(shape, heatmap.tokens())) {
            byte[] chunk = ExpertIds.pack(chunkIds);
            ByteBuffer ids = ByteBuffer.allocate((previous == null ? 0 : previous.getPrefillIds().remaining())
                    + chunk.length);
            if (previous != null) {
                ids.put(previous.getPrefillIds().duplicate());
            }
            ids.put(chunk).flip();
            return b.setPrefillIds(ids).setHeatmap(List.of()).setHistoryCounts(ByteBuffer.allocate(0))
                    .setHistoryDecayed(ByteBuffer.allocate(0)).setHistoryTokens(history.tokens());
        }
        return dense(b.setPrefillIds(ByteBuffer.allocate(0)).setHeatmap(RequestForecastProcessor.toList(heatmap.counts())), history);
    }

    private static RequestForecastState.Builder dense(RequestForecastState.Builder b, RequestHistory h) {
        int[] c = h.counts();
        double[] d = h.decayed();
        double[] totals = h.decayedTotals();
        ByteBuffer counts = ByteBuffer.allocate(c.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer decayed = ByteBuffer.allocate((d.length + 1 + totals.length) * 8).order(ByteOrder.LITTLE_ENDIAN);
        counts.asIntBuffer().put(c);       // bulk: the views keep the little-endian order
        decayed.asDoubleBuffer().put(d).put(h.decayScale()).put(totals); // the cells, their unit, the totals
        return b.setHistoryCounts(counts).setHistoryDecayed(decayed).setHistoryTokens(h.tokens());
    }

    private static int[] prefillIds(RequestForecastState state) {
        return RequestForecastProcessor.unpack(state.getPrefillIds());
    }
}
