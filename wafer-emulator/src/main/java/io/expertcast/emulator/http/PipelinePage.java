package io.expertcast.emulator.http;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.Assignment;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapRow;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.metrics.ServiceMetrics;
import io.expertcast.streams.metrics.TopicFollower;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the pipeline's page shows that the emulator does not compute itself, read from the public
 * topics as any consumer would ({@link TopicFollower}): the heatmaps of moe.heatmaps (the paper's
 * Figs. 4-5), accuracy over time from moe.predictor-metrics, throughput and in-time share over time
 * from moe.wafer-metrics, the expert distribution table of moe.placement and the last plan per layer
 * of moe.allocations (per-die load). A record the page cannot use (does not decode, names a model the
 * catalog does not know, a table that does not fit its model) is counted and listed under
 * {@code problems}, never a blank page.
 */
public final class PipelinePage implements AutoCloseable {
    /** Points kept per time series (one per published record; ~10 min at one a second). */
    static final int SERIES_POINTS = 600;
    private static final int MAX_PROBLEMS = 20;

    private final ModelCatalog catalog;
    private final Map<String, HeatmapSnapshot> heatmaps = new ConcurrentHashMap<>();
    private final Map<String, Deque<double[]>> accuracy = new ConcurrentHashMap<>();
    private final Map<String, Deque<double[]>> wafer = new ConcurrentHashMap<>();
    private final Map<String, Double> baseThroughput = new ConcurrentHashMap<>();
    private final Map<String, PlacementEntry> placement = new ConcurrentHashMap<>();
    private final Map<String, AllocationPlan> plans = new ConcurrentHashMap<>();
    private final Deque<String> problems = new ArrayDeque<>();
    private final AtomicLong problemCount = new AtomicLong();
    private volatile TopicFollower follower;

    public PipelinePage(ModelCatalog catalog) {
        this.catalog = catalog;
    }

    /** Starts reading the topics on {@code bootstrap}; the reader's consumer metrics go to {@code metrics}. */
    public PipelinePage follow(String bootstrap, String clientId, ServiceMetrics metrics) {
        follower = new TopicFollower(bootstrap, clientId, metrics)
                .follow(Topics.HEATMAPS, -1, handler(this::heatmap))
                .follow(Topics.PREDICTOR_METRICS, 2000, handler(this::accuracy))
                .follow(Topics.WAFER_METRICS, 2000, handler(this::wafer))
                .follow(Topics.PLACEMENT, -1, handler(this::placement))
                .follow(Topics.ALLOCATIONS, 500, handler(this::plan))
                .start();
        return this;
    }

    private interface Sink<V> {
        void accept(String key, V value, long ts);
    }

    private <V> TopicFollower.Handler<String, V> handler(Sink<V> sink) {
        return new TopicFollower.Handler<>() {
            @Override
            public void record(String key, V value, long timestampMs) {
                sink.accept(key, value, timestampMs);
            }

            @Override
            public void undecodable(String topic, int partition, long offset, RuntimeException error) {
                PipelinePage.this.undecodable(topic, partition, offset, error);
            }
        };
    }

    void undecodable(String topic, int partition, long offset, RuntimeException error) {
        problem(topic + " partition " + partition + " offset " + offset + ": undecodable record ("
                + error.getClass().getSimpleName() + "), skipped");
    }

    void problem(String message) {
        synchronized (problems) {
            if (problems.contains(message)) {
                return; // a table that does not fit is found again at every look: said once
            }
            problemCount.incrementAndGet();
            problems.addLast(message);
            while (problems.size() > MAX_PROBLEMS) {
                problems.removeFirst();
            }
        }
    }

    void heatmap(String key, HeatmapSnapshot h, long ts) {
        if (h == null || h.getKind() == HeatmapKind.POPULARITY || h.getKind() == HeatmapKind.COACTIVATION) {
            return;
        }
        String id = h.getModel() + "/" + h.getLayer() + "/" + h.getKind();
        boolean top = key != null && key.endsWith("/top");
        HeatmapSnapshot had = heatmaps.get(id);
        // Keep the top rows when the predictor sends them (each row's largest cells, ~1/8 of a whole
        // table): a whole table only until its first top-rows snapshot, or when it is newer.
        if (top || had == null || had.getRowTotals().remaining() == 0 || h.getEventTimeMs() > had.getEventTimeMs()) {
            heatmaps.put(id, h);
        }
    }

    void accuracy(String key, PredictorMetrics m, long ts) {
        if (m == null || !"*".equals(m.getTag())) {
            return;
        }
        append(accuracy, m.getModel() + "/" + m.getPredictor(),
                new double[]{m.getEventTimeMs() > 0 ? m.getEventTimeMs() : ts, m.getRecall(), m.getSamples()});
    }

    void wafer(String key, WaferMetrics m, long ts) {
        if (m == null) {
            return;
        }
        double all = m.getPrefetchUsed() + m.getPrefetchLate() + m.getPrefetchExpired();
        if ("base".equals(m.getPolicy())) {
            baseThroughput.put(m.getModel(), m.getThroughputTokensPerS());
        }
        // Speed-up against the Base totals of the same moment (the policies' records interleave).
        Double base = baseThroughput.get(m.getModel());
        double speedup = base == null || base <= 0 ? Double.NaN : m.getThroughputTokensPerS() / base;
        append(wafer, m.getModel() + "/" + m.getPolicy(), new double[]{ts, m.getThroughputTokensPerS(),
                all == 0 ? Double.NaN : m.getPrefetchUsed() / all, m.getHops(), speedup});
    }

    void placement(String key, PlacementEntry e, long ts) {
        if (key == null) {
            return;
        }
        if (e == null) {
            placement.remove(key);
        } else {
            placement.put(key, e);
        }
    }

    void plan(String key, AllocationPlan p, long ts) {
        if (p != null) {
            plans.put(p.getModel() + "/" + p.getLayer(), p);
        }
    }

    private static void append(Map<String, Deque<double[]>> series, String key, double[] point) {
        Deque<double[]> s = series.computeIfAbsent(key, k -> new ArrayDeque<>());
        synchronized (s) {
            s.addLast(point);
            while (s.size() > SERIES_POINTS) {
                s.removeFirst();
            }
        }
    }

    /** {"models": {model: {moeLayers, experts, layers: [MoE layers with a heatmap]}}, "problems": [...]}. */
    public Map<String, Object> index() {
        Map<String, TreeSet<Integer>> layers = new TreeMap<>();
        for (HeatmapSnapshot h : heatmaps.values()) {
            layers.computeIfAbsent(h.getModel(), m -> new TreeSet<>()).add(h.getLayer());
        }
        placement.values().forEach(e -> layers.computeIfAbsent(e.getModel(), m -> new TreeSet<>()));
        Map<String, Object> models = new TreeMap<>();
        layers.forEach((model, ls) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            ModelShape shape = catalog.byId(model).orElse(null);
            m.put("known", shape != null);
            m.put("moe_layers", shape == null ? null : shape.numMoeLayers());
            m.put("experts", shape == null ? null : shape.numExperts());
            m.put("heatmap_layers", List.copyOf(ls));
            models.put(model, m);
        });
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("models", models);
        out.put("problems", problems());
        out.put("problem_count", problemCount.get());
        return out;
    }

    private List<String> problems() {
        synchronized (problems) {
            return List.copyOf(problems);
        }
    }

    /**
     * One heatmap as P(next = j | current = i), rows and columns the model's experts, 4 decimals:
     * {"model", "layer", "kind", "experts", "top_rows", "event_time_ms", "p": [[...]]}. An unknown
     * model, a missing heatmap or one that does not fit its model answer {"error": ...} (the page says so).
     */
    public Map<String, Object> heatmapJson(String model, int layer, String kindName) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", model);
        out.put("layer", layer);
        out.put("kind", kindName);
        ModelShape shape = catalog.byId(model).orElse(null);
        if (shape == null) {
            out.put("error", "unknown model " + model + ": the page's catalog does not know it");
            return out;
        }
        HeatmapKind kind;
        try {
            kind = HeatmapKind.valueOf(kindName);
        } catch (IllegalArgumentException e) {
            out.put("error", "unknown heatmap kind " + kindName + "; TOKEN_TO_TOKEN or LAYER_TO_LAYER");
            return out;
        }
        HeatmapSnapshot h = heatmaps.get(model + "/" + layer + "/" + kind);
        if (h == null) {
            out.put("error", "no " + kind + " heatmap of " + model + " MoE layer " + layer + " on moe.heatmaps yet");
            return out;
        }
        int e = shape.numExperts();
        try {
            double[][] p = probabilities(h, e);
            List<List<Double>> rows = new ArrayList<>(e);
            for (double[] row : p) {
                List<Double> r = new ArrayList<>(e);
                for (double v : row) {
                    r.add(Math.round(v * 1e4) / 1e4);
                }
                rows.add(r);
            }
            out.put("experts", e);
            out.put("top_rows", h.getRowTotals().remaining() > 0);
            out.put("event_time_ms", h.getEventTimeMs());
            out.put("p", rows);
        } catch (IllegalArgumentException ex) {
            problem("moe.heatmaps " + model + "/" + layer + "/" + kind + ": " + ex.getMessage());
            out.put("error", "the " + kind + " heatmap of " + model + " MoE layer " + layer + " does not fit the model: "
                    + ex.getMessage());
        }
        return out;
    }

    /** Row-normalised transitions; rows from {@code cells} (v3+) or {@code rows}; checked against {@code experts}. */
    static double[][] probabilities(HeatmapSnapshot h, int experts) {
        if (h.getNumExperts() != experts) {
            throw new IllegalArgumentException("it has " + h.getNumExperts() + " experts, the model " + experts);
        }
        double[][] p = new double[experts][experts];
        ByteBuffer cells = h.getCells().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (cells.remaining() > 0) {
            while (cells.hasRemaining()) {
                if (cells.remaining() < 4) {
                    throw new IllegalArgumentException("cells end inside a row header");
                }
                int row = Short.toUnsignedInt(cells.getShort());
                int count = Short.toUnsignedInt(cells.getShort());
                if (row >= experts || cells.remaining() < count * 10L) {
                    throw new IllegalArgumentException("row " + row + " of " + count + " cells does not fit");
                }
                for (int c = 0; c < count; c++) {
                    int target = Short.toUnsignedInt(cells.getShort());
                    double w = cells.getDouble();
                    if (target >= experts) {
                        throw new IllegalArgumentException("target expert " + target + " out of range");
                    }
                    p[row][target] = w;
                }
            }
        } else {
            for (HeatmapRow r : h.getRows()) {
                if (r.getExpert() < 0 || r.getExpert() >= experts || r.getTargets().size() != r.getWeights().size()) {
                    throw new IllegalArgumentException("row of expert " + r.getExpert() + " does not fit");
                }
                for (int i = 0; i < r.getTargets().size(); i++) {
                    int t = r.getTargets().get(i);
                    if (t < 0 || t >= experts) {
                        throw new IllegalArgumentException("target expert " + t + " out of range");
                    }
                    p[r.getExpert()][t] = r.getWeights().get(i);
                }
            }
        }
        ByteBuffer totals = h.getRowTotals().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        boolean haveTotals = totals.remaining() == experts * 8;
        for (int i = 0; i < experts; i++) {
            double total = 0;
            if (haveTotals) {
                total = totals.getDouble(i * 8);
            } else {
                for (double v : p[i]) {
                    total += v;
                }
            }
            if (total > 0) {
                for (int j = 0; j < experts; j++) {
                    p[i][j] /= total;
                }
            }
        }
        return p;
    }

    /** Accuracy (recall@n, tag *) per model/predictor and throughput / in-time share per model/policy, over time. */
    public Map<String, Object> seriesJson() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("accuracy", copy(accuracy, new String[]{"t", "recall", "samples"}));
        out.put("wafer", copy(wafer, new String[]{"t", "throughput", "in_time", "hops", "speedup"}));
        return out;
    }

    private static Map<String, Object> copy(Map<String, Deque<double[]>> series, String[] names) {
        Map<String, Object> out = new TreeMap<>();
        series.forEach((key, points) -> {
            Map<String, List<Object>> cols = new LinkedHashMap<>();
            for (String n : names) {
                cols.put(n, new ArrayList<>());
            }
            synchronized (points) {
                for (double[] pt : points) {
                    for (int i = 0; i < names.length; i++) {
                        cols.get(names[i]).add(Double.isNaN(pt[i]) ? null : pt[i]);
                    }
                }
            }
            out.put(key, cols);
        });
        return out;
    }

    /**
     * A layer's expert distribution table on the mesh: per die the experts it holds (home or replica)
     * and, from the layer's last allocation plan, the tokens planned there.
     */
    public Map<String, Object> placementJson(String model, int layer, int dies) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", model);
        out.put("layer", layer);
        if (catalog.byId(model).isEmpty()) {
            out.put("error", "unknown model " + model + ": the page's catalog does not know it");
            return out;
        }
        List<List<Integer>> homes = new ArrayList<>();
        List<List<Integer>> replicas = new ArrayList<>();
        for (int d = 0; d < dies; d++) {
            homes.add(new ArrayList<>());
            replicas.add(new ArrayList<>());
        }
        int rows = 0;
        for (PlacementEntry e : placement.values()) {
            if (!e.getModel().equals(model) || e.getLayer() != layer) {
                continue;
            }
            rows++;
            if (e.getHomeDie() >= 0 && e.getHomeDie() < dies) {
                homes.get(e.getHomeDie()).add(e.getExpert());
            }
            for (int d : e.getReplicaDies()) {
                if (d >= 0 && d < dies) {
                    replicas.get(d).add(e.getExpert());
                }
            }
        }
        homes.forEach(l -> l.sort(null));
        replicas.forEach(l -> l.sort(null));
        long[] tokens = new long[dies];
        AllocationPlan plan = plans.get(model + "/" + layer);
        if (plan != null) {
            for (Assignment a : plan.getAssignments()) {
                if (a.getDie() >= 0 && a.getDie() < dies) {
                    tokens[a.getDie()] += a.getTokens();
                }
            }
        }
        out.put("rows", rows);
        out.put("homes", homes);
        out.put("replicas", replicas);
        List<Long> t = new ArrayList<>();
        for (long v : tokens) {
            t.add(v);
        }
        out.put("plan_pass_id", plan == null ? null : plan.getPassId());
        out.put("die_tokens", t);
        return out;
    }

    @Override
    public void close() {
        TopicFollower f = follower;
        if (f != null) {
            f.close();
        }
    }
}
