package io.expertcast.core.wafer;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.LayerPopularity;
import io.expertcast.core.predict.RequestForecaster;
import io.expertcast.core.predict.RequestHistory;
import io.expertcast.core.predict.TransitionHeatmap;
import io.expertcast.core.predict.TransitionRows;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Pred policies' copy decisions computed inside the emulator, in one {@link PrefetchShape}, for one
 * model's passes in order: {@link #copyEnable} before a pass runs, {@link #learn} after. Every shape reads
 * the same token->token {@link TransitionHeatmap}, which learns each pass's transitions after the pass, so
 * shapes differ only in what a command would carry and when it can arrive. The forecasting itself is
 * core/predict's: the heatmap's top successors ({@link TransitionHeatmap#predictInto}) for the per-pass
 * union, the live predictor's {@link RequestForecaster} for per-request commands.
 *
 * <p>Also counts what the commands of the shape would weigh, packed as PrefetchCommand v2 packs ids and
 * scores (a little-endian uint16 each, {@link #BYTES_PER_ID}); a union's layers have different lengths, so
 * its command also carries, per layer it names an expert at, the layer and the length (uint16 each,
 * {@link #BYTES_PER_LAYER_HEADER}). Not thread-safe.
 */
public final class InProcessForecast {
    /** A PrefetchCommand v2 id and its score, both uint16. */
    public static final int BYTES_PER_ID = 4;
    /** A union command's layer id and length, for each layer it names experts at: uint16 each. */
    public static final int BYTES_PER_LAYER_HEADER = 4;

    /** One (request, step) entry of a pass: its tokens from {@code firstToken} in batch order. */
    public record Entry(String requestId, int step, int firstToken, int tokens, boolean lastStep) {
    }

    /** What the shape's commands weighed so far (per-die bytes depend on the policy's reads: see {@link WaferEngine}). */
    public record CommandTotals(long passes, long commands, long payloadBytes, long enabledCells) {
    }

    private final ModelShape model;
    private final PrefetchShape shape;
    private final int n;
    private final int layers;
    private final int experts;
    private final int k;
    private final TransitionHeatmap heatmap;
    private final Map<String, int[]> lastToken = new HashMap<>(); // request -> its last token's ids [layer][k]
    private boolean[][] nextPass;                                  // per-pass: the union for the next pass
    private final Map<String, RequestHistory> histories = new HashMap<>();
    private final Map<String, Forecast> nextToken = new HashMap<>(); // per-request: each request's command
    private final double[][] finishedCounts;                      // per-request: popularity, finished requests
    private final RequestForecaster forecaster;
    private long passes;
    private long commands;
    private long payloadBytes;
    private long enabledCells;

    private record Forecast(int targetStep, int[][] experts) {
    }

    public InProcessForecast(ModelShape model, PrefetchShape shape, int n) {
        if (n <= 0) {
            throw new IllegalArgumentException("the predictor's n must be positive, got " + n);
        }
        this.model = model;
        this.shape = shape;
        this.n = n;
        this.layers = model.numMoeLayers();
        this.experts = model.numExperts();
        this.k = model.topK();
        this.heatmap = new TransitionHeatmap(layers, experts);
        boolean perRequest = shape == PrefetchShape.PER_REQUEST || shape == PrefetchShape.PER_PASS_BLENDED;
        this.finishedCounts = perRequest ? new double[layers][experts] : null;
        this.forecaster = perRequest ? new RequestForecaster(model, n) : null;
    }

    public PrefetchShape shape() {
        return shape;
    }

    /** The token->token table every shape reads (for tests). */
    public TransitionHeatmap heatmap() {
        return heatmap;
    }

    /** The copy-enable set for {@code pass}, whose (request, step) entries are {@code entries}. */
    public CopyEnable copyEnable(PassWorkload pass, List<Entry> entries) {
        CopyEnable copy = new CopyEnable(layers, experts);
        switch (shape) {
            case ON_WAFER -> mark(copy, union(pass));
            case PER_PASS, PER_DIE, PER_PASS_BLENDED -> {
                if (nextPass != null) {
                    mark(copy, nextPass);
                }
            }
            case PER_REQUEST -> {
                for (Entry e : entries) {
                    Forecast f = nextToken.get(e.requestId());
                    if (f != null && f.targetStep() == e.step()) {
                        for (int l = 0; l < layers; l++) {
                            for (int id : f.experts()[l]) {
                                copy.enable(l, id, CopyEnable.HBM);
                            }
                        }
                    }
                }
            }
            default -> throw new IllegalStateException("unknown shape " + shape);
        }
        passes++;
        for (int l = 0; l < layers; l++) {
            for (int x = 0; x < experts; x++) {
                if (copy.any(l, x)) {
                    enabledCells++;
                }
            }
        }
        return copy;
    }

    /**
     * After the pass ran: the commands for the next pass are made from what the pass selected (with the
     * table as it was before this pass, as the live predictor's table lacks a request's latest transition),
     * then the table learns the pass's transitions, in token order; finished requests are forgotten.
     */
    public void learn(PassWorkload pass, List<Entry> entries) {
        if (shape == PrefetchShape.PER_PASS || shape == PrefetchShape.PER_DIE) {
            nextPass = union(pass);
            countUnion(nextPass);
        } else if (shape == PrefetchShape.PER_REQUEST || shape == PrefetchShape.PER_PASS_BLENDED) {
            forecastRequests(pass, entries);
        }
        int perToken = layers * k;
        for (Entry e : entries) {
            int[] previous = lastToken.get(e.requestId());
            int previousAt = 0;
            for (int t = e.firstToken(); t < e.firstToken() + e.tokens(); t++) {
                if (previous != null) {
                    heatmap.observeToken(previous, previousAt, pass.ids(), t * perToken, k);
                }
                previous = pass.ids();
                previousAt = t * perToken;
            }
            if (e.lastStep()) {
                lastToken.remove(e.requestId());
            } else {
                lastToken.put(e.requestId(), Arrays.copyOfRange(previous, previousAt, previousAt + perToken));
            }
        }
    }

    /** One union command: its ids and, per layer it names experts at, a header (none when it names nothing). */
    private void countUnion(boolean[][] union) {
        long ids = 0;
        long named = 0;
        for (boolean[] layer : union) {
            long before = ids;
            for (boolean b : layer) {
                ids += b ? 1 : 0;
            }
            named += ids > before ? 1 : 0;
        }
        if (ids > 0) {
            commands++;
            payloadBytes += ids * BYTES_PER_ID + named * BYTES_PER_LAYER_HEADER;
        }
    }

    /**
     * Each entry's request observes its tokens, then (unless it ended) predicts its next step, as the live
     * predictor does: one command per request ({@link PrefetchShape#PER_REQUEST}), or their union for the
     * next pass ({@link PrefetchShape#PER_PASS_BLENDED}).
     */
    private void forecastRequests(PassWorkload pass, List<Entry> entries) {
        TransitionRows[] rows = new TransitionRows[layers];
        LayerPopularity[] popularity = new LayerPopularity[layers];
        for (int l = 0; l < layers; l++) {
            rows[l] = TransitionRows.of(heatmap, l);
            popularity[l] = new LayerPopularity(finishedCounts[l].clone()); // wrapped, so a copy: the counts change below
        }
        int perToken = layers * k;
        double[][] scores = new double[layers][];
        boolean blended = shape == PrefetchShape.PER_PASS_BLENDED;
        boolean[][] union = blended ? new boolean[layers][experts] : null;
        for (Entry e : entries) {
            RequestHistory history = histories.computeIfAbsent(e.requestId(), r -> new RequestHistory(layers, experts, k));
            for (int t = e.firstToken(); t < e.firstToken() + e.tokens(); t++) {
                history.observe(pass.ids(), t * perToken);
            }
            if (e.lastStep()) {
                histories.remove(e.requestId());
                nextToken.remove(e.requestId());
                int[] counts = history.counts();
                for (int l = 0; l < layers; l++) {
                    for (int x = 0; x < experts; x++) {
                        finishedCounts[l][x] += counts[l * experts + x];
                    }
                }
                continue;
            }
            int last = (e.firstToken() + e.tokens() - 1) * perToken;
            int[] current = Arrays.copyOfRange(pass.ids(), last, last + perToken);
            int[][] plan = forecaster.nextToken(rows, popularity, history, current, scores);
            if (blended) {
                for (int l = 0; l < layers; l++) {
                    for (int id : plan[l]) {
                        union[l][id] = true;
                    }
                }
                continue;
            }
            nextToken.put(e.requestId(), new Forecast(e.step() + 1, plan));
            commands++;
            payloadBytes += (long) layers * forecaster.width() * BYTES_PER_ID;
        }
        if (blended) {
            nextPass = union;
            countUnion(union);
        }
    }

    /** Per MoE layer, the union of the top-n successors of the experts the pass selected. */
    private boolean[][] union(PassWorkload pass) {
        boolean[][] predicted = new boolean[layers][experts];
        boolean[] selected = new boolean[experts];
        for (int l = 0; l < layers; l++) {
            Arrays.fill(selected, false);
            for (int t = 0; t < pass.tokens(); t++) {
                for (int s = 0; s < k; s++) {
                    selected[pass.expert(t, l, s)] = true;
                }
            }
            heatmap.predictInto(l, selected, n, predicted[l]);
        }
        return predicted;
    }

    private static void mark(CopyEnable copy, boolean[][] predicted) {
        for (int l = 0; l < predicted.length; l++) {
            for (int x = 0; x < predicted[l].length; x++) {
                if (predicted[l][x]) {
                    copy.enable(l, x, CopyEnable.HBM);
                }
            }
        }
    }

    /** Commands made and their bytes so far, and the (layer, expert) cells enabled over the passes. */
    public CommandTotals totals() {
        return new CommandTotals(passes, commands, payloadBytes, enabledCells);
    }

    public ModelShape model() {
        return model;
    }
}
