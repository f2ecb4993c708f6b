package io.expertcast.core.trace;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The paper's public trace dataset (docs/formats.md section 1): {@code <org>/<model>/<benchmark>/<subject>/<index>.json},
 * one request per file, a JSON array of steps (step 0 prefill, then one decode token per step), each
 * step an object with one key per transformer layer (null for a dense layer, else one row of k
 * expert ids per token). Files are read with Jackson's streaming parser, one request in memory at a
 * time, and checked completely before a request is handed out, so a bad file never yields a partial request.
 */
public final class TraceDataset {
    /** Benchmarks whose prompts are Chinese. */
    private static final Set<String> CHINESE_BENCHMARKS = Set.of("mmlu_ZH_CN", "Chinese-SimpleQA");
    private static final JsonFactory JSON = new JsonFactory();

    private final Path root;
    private final ModelCatalog catalog;
    private final int explicitExperts;
    private final List<Path> files;
    private final Map<String, ModelShape> inferred = new HashMap<>();

    private TraceDataset(Path root, ModelCatalog catalog, int explicitExperts, List<Path> files) {
        this.root = root;
        this.catalog = catalog;
        this.explicitExperts = explicitExperts;
        this.files = files;
    }

    /** Opens a dataset tree; the model shape comes from the catalog, or is inferred from the first file. */
    public static TraceDataset open(Path root, ModelCatalog catalog) {
        return open(root, catalog, 0);
    }

    /**
     * @param experts routed expert count for models the catalog does not know (0: the largest id in
     *                the model's files + 1)
     */
    public static TraceDataset open(Path root, ModelCatalog catalog, int experts) {
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("trace folder " + root + " is not a directory");
        }
        List<Path> atRoot = traceFiles(root, root);
        if (!atRoot.isEmpty()) {
            return new TraceDataset(root, catalog, experts, atRoot);
        }
        Path folder = root.toAbsolutePath().normalize();
        // Any folder of the tree will do: an org, model, benchmark or subject folder is read with the
        // dataset root above it (the folders' names say the model), limited to the files under it.
        for (Path base = folder.getParent(); base != null; base = base.getParent()) {
            List<Path> files = traceFiles(folder, base);
            if (!files.isEmpty()) {
                return new TraceDataset(base, catalog, experts, files);
            }
            if (folder.getNameCount() - base.getNameCount() >= 4) {
                break; // a subject folder is 4 below the root: no root is further up
            }
        }
        throw new IllegalArgumentException("no trace files under " + root + ": --traces takes the dataset root (the "
                + "folder holding <org>/<model>/<benchmark>/<subject>/<index>.json, e.g. data/sample) or any folder "
                + "inside it");
    }

    /** The .json files under {@code folder} that sit at {@code <org>/<model>/<benchmark>/<subject>/} below {@code base}. */
    private static List<Path> traceFiles(Path folder, Path base) {
        try (Stream<Path> walk = Files.walk(folder)) {
            return walk.filter(p -> p.getFileName().toString().endsWith(".json") && Files.isRegularFile(p))
                    .filter(p -> base.relativize(p).getNameCount() >= 5)
                    .filter(p -> !base.relativize(p).toString().contains("_meta"))
                    .sorted(datasetOrder(base))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + folder, e);
        }
    }

    /** Dataset order, as the paper fills batches: model, benchmark, then query index across subjects. */
    private static Comparator<Path> datasetOrder(Path root) {
        return Comparator.<Path, String>comparing(p -> modelFolder(root.relativize(p)))
                .thenComparing(p -> segment(root.relativize(p), 3))
                .thenComparingLong(p -> indexOf(p))
                .thenComparing(p -> root.relativize(p).toString());
    }

    private static String segment(Path relative, int fromEnd) {
        return relative.getName(relative.getNameCount() - fromEnd).toString();
    }

    private static String modelFolder(Path relative) {
        return segment(relative, 5) + "/" + segment(relative, 4);
    }

    private static long indexOf(Path file) {
        String name = file.getFileName().toString().replaceFirst("\\.json$", "");
        try {
            return Long.parseLong(name);
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    /** The trace files, in dataset order. */
    public List<Path> files() {
        return files;
    }

    /** The requests in dataset order; with {@code skipBad} a bad file is skipped and its message recorded. */
    public Iterator<RequestTrace> requests(boolean skipBad, List<String> skippedOut) {
        return new Iterator<>() {
            private int next;
            private RequestTrace ahead;

            @Override
            public boolean hasNext() {
                while (ahead == null && next < files.size()) {
                    Path file = files.get(next++);
                    try {
                        ahead = read(file);
                    } catch (TraceFormatException e) {
                        if (!skipBad) {
                            throw e;
                        }
                        skippedOut.add(e.getMessage());
                    }
                }
                return ahead != null;
            }

            @Override
            public RequestTrace next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                RequestTrace out = ahead;
                ahead = null;
                return out;
            }
        };
    }

    /**
     * The requests in dataset order, parsed ahead on {@code threads} daemon threads (at most
     * 4 x threads files in flight, so memory stays bounded); a bad file surfaces in its place in the
     * order, as with the sequential reader. Stop early by dropping the iterator: the threads are
     * daemons and only run ahead by the window.
     */
    public Iterator<RequestTrace> requests(boolean skipBad, List<String> skippedOut, int threads) {
        if (threads <= 1) {
            return requests(skipBad, skippedOut);
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "trace-read-ahead");
            t.setDaemon(true);
            return t;
        });
        int window = 4 * threads;
        java.util.ArrayDeque<java.util.concurrent.Future<RequestTrace>> ahead = new java.util.ArrayDeque<>();
        return new Iterator<>() {
            private int submitted;
            private RequestTrace next;

            private void fill() {
                while (ahead.size() < window && submitted < files.size()) {
                    Path file = files.get(submitted++);
                    ahead.add(pool.submit(() -> read(file)));
                }
                if (ahead.isEmpty()) {
                    pool.shutdown();
                }
            }

            @Override
            public boolean hasNext() {
                while (next == null) {
                    fill();
                    if (ahead.isEmpty()) {
                        return false;
                    }
                    try {
                        next = ahead.poll().get();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        pool.shutdownNow();
                        throw new IllegalStateException("interrupted while reading traces", e);
                    } catch (java.util.concurrent.ExecutionException e) {
                        if (e.getCause() instanceof TraceFormatException bad && skipBad) {
                            skippedOut.add(bad.getMessage());
                            continue;
                        }
                        pool.shutdownNow();
                        if (e.getCause() instanceof RuntimeException r) {
                            throw r;
                        }
                        throw new IllegalStateException(e.getCause());
                    }
                }
                return true;
            }

            @Override
            public RequestTrace next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                RequestTrace out = next;
                next = null;
                return out;
            }
        };
    }

    /** Reads and checks one request file. */
    public RequestTrace read(Path file) {
        Path relative = root.relativize(file);
        if (relative.getNameCount() < 5) {
            throw new TraceFormatException(file + ": not inside <org>/<model>/<benchmark>/<subject>/");
        }
        String folder = modelFolder(relative);
        String benchmark = segment(relative, 3);
        String subject = segment(relative, 2);
        String index = file.getFileName().toString().replaceFirst("\\.json$", "");
        ModelShape shape = shapeOf(folder, file);
        List<int[]> steps = parse(file, shape);
        String language = CHINESE_BENCHMARKS.contains(benchmark) ? "zh" : "en";
        return new RequestTrace(shape, shape.id() + "/" + benchmark + "/" + subject + "/" + index, benchmark, subject,
                language, steps);
    }

    /**
     * The shape of a model folder: the catalog's by dataset folder ({@code meta-llama/Llama-4-...}) or by
     * id ({@code synthetic/deepseek-v3}), then a {@value #SHAPE_FILE} in the model folder (written by
     * the synthetic generator for custom shapes), else inferred from the files.
     */
    private synchronized ModelShape shapeOf(String folder, Path file) {
        return catalog.byDatasetFolder(folder)
                .or(() -> catalog.byId(folder.substring(folder.indexOf('/') + 1)))
                .orElseGet(() -> inferred.computeIfAbsent(folder, f -> {
                    Path shapeFile = root.resolve(f).resolve(SHAPE_FILE);
                    return Files.isRegularFile(shapeFile) ? readShapeFile(shapeFile) : infer(f, file);
                }));
    }

    /** A model folder's own shape, one line {@code id:layers:moeLayers:experts:k[:hidden:intermediate]}. */
    public static final String SHAPE_FILE = "model-shape.txt";

    private static ModelShape readShapeFile(Path shapeFile) {
        try {
            return ModelCatalog.parseShape(Files.readString(shapeFile).strip());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + shapeFile, e);
        } catch (IllegalArgumentException e) {
            throw new TraceFormatException(shapeFile + ": " + e.getMessage(), e);
        }
    }

    /** The largest expert id in any file of a model folder (for a model whose expert count nobody gave). */
    private int largestIdIn(String folder) {
        int max = -1;
        for (Path f : files) {
            if (!modelFolder(root.relativize(f)).equals(folder)) {
                continue;
            }
            try (JsonParser p = JSON.createParser(f.toFile())) {
                JsonToken t;
                while ((t = p.nextToken()) != null) {
                    if (t == JsonToken.VALUE_NUMBER_INT) {
                        max = Math.max(max, p.getIntValue());
                    }
                }
            } catch (JsonProcessingException e) {
                throw new TraceFormatException(f + ": malformed JSON at " + where(e.getLocation()) + ": "
                        + e.getOriginalMessage(), e);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + f, e);
            }
        }
        return max;
    }

    /**
     * Shape of a model the catalog does not know, from its first file: the layer keys give the layer
     * count, null layers are dense, the first row's length is k; the expert count is --experts or the
     * largest id in any of the model's files + 1.
     */
    private ModelShape infer(String folder, Path file) {
        int layers = 0;
        List<Integer> moe = new ArrayList<>();
        int k = -1;
        int maxId = -1;
        try (JsonParser p = JSON.createParser(file.toFile())) {
            expect(p, JsonToken.START_ARRAY, file);
            expect(p, JsonToken.START_OBJECT, file);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                int layer = layerKey(p, file, Integer.MAX_VALUE);
                layers = Math.max(layers, layer + 1);
                JsonToken t = p.nextToken();
                if (t == JsonToken.VALUE_NULL) {
                    continue;
                }
                moe.add(layer);
                if (t != JsonToken.START_ARRAY) {
                    throw error(p, file, "layer " + layer + " is neither null nor an array of rows");
                }
                while (p.nextToken() == JsonToken.START_ARRAY) {
                    int len = 0;
                    while (p.nextToken() == JsonToken.VALUE_NUMBER_INT) {
                        maxId = Math.max(maxId, p.getIntValue());
                        len++;
                    }
                    k = k < 0 ? len : k;
                }
            }
        } catch (JsonProcessingException e) {
            throw new TraceFormatException(file + ": malformed JSON at " + where(e.getLocation()) + ": "
                    + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        if (moe.isEmpty() || k <= 0) {
            throw new TraceFormatException(file + ": cannot infer the model shape (no MoE layer in the prefill step)");
        }
        int experts = explicitExperts > 0 ? explicitExperts : Math.max(maxId, largestIdIn(folder)) + 1;
        String id = folder.substring(folder.indexOf('/') + 1);
        moe.sort(Integer::compare);
        return new ModelShape(id, layers, moe.stream().mapToInt(Integer::intValue).toArray(), experts, k, 7168, 2048, 2.0);
    }

    /** The fast reader for well-formed files; the Jackson reader below for the rest and for every error. */
    private static List<int[]> parse(Path file, ModelShape shape) {
        byte[] data;
        try {
            data = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        List<int[]> fast = FastTraceParser.parse(data, shape);
        return fast != null ? fast : parseWithJackson(data, file, shape);
    }

    static List<int[]> parseWithJackson(byte[] data, Path file, ModelShape shape) {
        int layers = shape.numLayers();
        int moeLayers = shape.numMoeLayers();
        int k = shape.topK();
        List<int[]> steps = new ArrayList<>();
        int[][] rowsOfLayer = new int[moeLayers][];
        int[] rowCount = new int[moeLayers];
        boolean[] seen = new boolean[layers];
        try (JsonParser p = JSON.createParser(data)) {
            expect(p, JsonToken.START_ARRAY, file);
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.START_OBJECT) {
                int step = steps.size();
                Arrays.fill(seen, false);
                Arrays.fill(rowCount, 0);
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    int layer = layerKey(p, file, layers);
                    if (seen[layer]) {
                        throw error(p, file, "step " + step + ": layer key \"" + layer + "\" repeated");
                    }
                    seen[layer] = true;
                    int m = shape.moeIndexOf(layer);
                    JsonToken v = p.nextToken();
                    if (m < 0) {
                        if (v != JsonToken.VALUE_NULL) {
                            throw error(p, file, "step " + step + ": layer " + layer + " is dense in " + shape.id()
                                    + " but has selections");
                        }
                        continue;
                    }
                    if (v != JsonToken.START_ARRAY) {
                        throw error(p, file, "step " + step + ": MoE layer " + layer + " is "
                                + (v == JsonToken.VALUE_NULL ? "null" : v) + ", expected rows of " + k + " expert ids");
                    }
                    int[] buf = rowsOfLayer[m] == null ? new int[64 * k] : rowsOfLayer[m];
                    int rows = 0;
                    JsonToken r;
                    while ((r = p.nextToken()) == JsonToken.START_ARRAY) {
                        if ((rows + 1) * k > buf.length) {
                            buf = Arrays.copyOf(buf, buf.length * 2);
                        }
                        int len = 0;
                        JsonToken id;
                        while ((id = p.nextToken()) == JsonToken.VALUE_NUMBER_INT) {
                            int e = p.getIntValue();
                            if (e < 0 || e >= shape.numExperts()) {
                                throw error(p, file, "step " + step + ", layer " + layer + ": expert id " + e
                                        + " out of range 0.." + (shape.numExperts() - 1)
                                        + (shape == ModelCatalog.LLAMA4_MAVERICK ? "" : " (for an inferred model pass --experts)"));
                            }
                            if (len < k) {
                                buf[rows * k + len] = e;
                            }
                            len++;
                        }
                        if (id != JsonToken.END_ARRAY) {
                            throw error(p, file, "step " + step + ", layer " + layer + ": a row holds " + id
                                    + ", expected expert ids");
                        }
                        if (len != k) {
                            throw error(p, file, "step " + step + ", layer " + layer + ": row " + rows + " has "
                                    + len + " expert ids, expected k = " + k);
                        }
                        rows++;
                    }
                    if (r != JsonToken.END_ARRAY) {
                        throw error(p, file, "step " + step + ", layer " + layer + ": expected a row, found " + r);
                    }
                    rowsOfLayer[m] = buf;
                    rowCount[m] = rows;
                }
                for (int layer = 0; layer < layers; layer++) {
                    if (!seen[layer]) {
                        throw error(p, file, "step " + step + ": layer key \"" + layer + "\" missing");
                    }
                }
                int tokens = rowCount[0];
                for (int m = 0; m < moeLayers; m++) {
                    if (rowCount[m] != tokens) {
                        throw error(p, file, "step " + step + ": MoE layer " + shape.moeLayer(m) + " has "
                                + rowCount[m] + " rows, layer " + shape.moeLayer(0) + " has " + tokens);
                    }
                }
                if (tokens == 0) {
                    throw error(p, file, "step " + step + " has no tokens");
                }
                if (step > 0 && tokens != 1) {
                    throw error(p, file, "decode step " + step + " has " + tokens + " rows, expected 1");
                }
                // Interleave to [token][moe layer][k].
                int[] ids = new int[tokens * moeLayers * k];
                for (int m = 0; m < moeLayers; m++) {
                    int[] rows = rowsOfLayer[m];
                    for (int tok = 0; tok < tokens; tok++) {
                        System.arraycopy(rows, tok * k, ids, (tok * moeLayers + m) * k, k);
                    }
                }
                steps.add(ids);
            }
            if (t != JsonToken.END_ARRAY) {
                throw error(p, file, "expected a step object or the end of the step list, found " + t);
            }
            if (p.nextToken() != null) {
                throw error(p, file, "content after the step list");
            }
        } catch (JsonProcessingException e) {
            throw new TraceFormatException(file + ": malformed JSON at " + where(e.getLocation()) + ": "
                    + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        if (steps.isEmpty()) {
            throw new TraceFormatException(file + ": empty step list (no prefill step)");
        }
        return steps;
    }

    private static int layerKey(JsonParser p, Path file, int layers) throws IOException {
        String key = p.currentName();
        int layer;
        try {
            layer = Integer.parseInt(key);
        } catch (NumberFormatException e) {
            throw error(p, file, "layer key \"" + key + "\" is not a layer index");
        }
        if (layer < 0 || layer >= layers) {
            throw error(p, file, "unexpected layer key \"" + key + "\" (the model has " + layers + " layers)");
        }
        return layer;
    }

    private static void expect(JsonParser p, JsonToken expected, Path file) throws IOException {
        JsonToken t = p.nextToken();
        if (t != expected) {
            throw error(p, file, "expected " + expected + ", found " + (t == null ? "end of file" : t));
        }
    }

    private static TraceFormatException error(JsonParser p, Path file, String what) {
        return new TraceFormatException(file + ": " + what + " at " + where(p.currentLocation()));
    }

    private static String where(JsonLocation location) {
        return location == null ? "?" : "line " + location.getLineNr() + ", column " + location.getColumnNr();
    }
}
