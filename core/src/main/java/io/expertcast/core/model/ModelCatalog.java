package io.expertcast.core.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;

/**
 * Shapes of the models in the paper's public traces (docs/paper-notes.md), keyed by a short id and by
 * the dataset's {@code org/model} folder, plus shapes registered at run time.
 */
public final class ModelCatalog {

    public static final ModelShape DEEPSEEK_V3 = new ModelShape("deepseek-v3", 61,
            IntStream.range(3, 61).toArray(), 256, 8, 7168, 2048, 2.0);
    public static final ModelShape QWEN3_235B = new ModelShape("qwen3-235b", 94,
            IntStream.range(0, 94).toArray(), 128, 8, 4096, 1536, 2.0);
    public static final ModelShape KIMI_K2 = new ModelShape("kimi-k2", 61,
            IntStream.range(1, 61).toArray(), 384, 8, 7168, 2048, 2.0);
    /** MoE on odd layers only (Ob1: pair layer N with N+2). */
    public static final ModelShape LLAMA4_MAVERICK = new ModelShape("llama4-maverick", 48,
            IntStream.range(0, 24).map(i -> 2 * i + 1).toArray(), 128, 1, 5120, 8192, 2.0);

    private final Map<String, ModelShape> byId = new LinkedHashMap<>();
    private final Map<String, String> idByDatasetFolder = new LinkedHashMap<>();

    /** The catalog of the four published models. */
    public static ModelCatalog standard() {
        ModelCatalog catalog = new ModelCatalog();
        catalog.register(DEEPSEEK_V3, "cognitivecomputations/DeepSeek-R1-AWQ", "deepseek-ai/DeepSeek-V3",
                "deepseek-ai/DeepSeek-R1");
        catalog.register(QWEN3_235B, "Qwen/Qwen3-235B-A22B-FP8", "Qwen/Qwen3-235B-A22B");
        catalog.register(KIMI_K2, "moonshotai/Kimi-K2-Thinking", "moonshotai/Kimi-K2-Instruct");
        catalog.register(LLAMA4_MAVERICK, "meta-llama/Llama-4-Maverick-17B-128E-Instruct");
        return catalog;
    }

    /** Adds a shape, known also under the given dataset folder names. Replaces a shape of the same id. */
    public synchronized ModelCatalog register(ModelShape shape, String... datasetFolders) {
        byId.put(shape.id(), shape);
        for (String folder : datasetFolders) {
            idByDatasetFolder.put(folder, shape.id());
        }
        return this;
    }

    public synchronized Optional<ModelShape> byId(String id) {
        return Optional.ofNullable(byId.get(id));
    }

    /** The shape of a dataset folder such as {@code meta-llama/Llama-4-Maverick-17B-128E-Instruct}. */
    public synchronized Optional<ModelShape> byDatasetFolder(String folder) {
        String id = idByDatasetFolder.get(folder);
        return id == null ? Optional.empty() : byId(id);
    }

    /** The shape for an id or a dataset folder. */
    public synchronized Optional<ModelShape> lookup(String idOrFolder) {
        Optional<ModelShape> shape = byId(idOrFolder);
        return shape.isPresent() ? shape : byDatasetFolder(idOrFolder);
    }

    public synchronized Map<String, ModelShape> all() {
        return Map.copyOf(byId);
    }

    /**
     * The {@link #parseShape} spec of a shape ({@code --model-shape} of every stage), MoE layers as
     * {@code all}, {@code from=N} or a comma list.
     */
    public static String formatShape(ModelShape m) {
        int[] moe = m.moeLayers();
        boolean contiguousToEnd = moe.length > 0 && moe[moe.length - 1] == m.numLayers() - 1
                && moe[moe.length - 1] - moe[0] == moe.length - 1;
        String layers;
        if (contiguousToEnd) {
            layers = moe[0] == 0 ? "all" : "from=" + moe[0];
        } else {
            StringBuilder list = new StringBuilder();
            for (int l : moe) {
                list.append(list.length() == 0 ? "" : ",").append(l);
            }
            layers = list.toString();
        }
        return m.id() + ":" + m.numLayers() + ":" + layers + ":" + m.numExperts() + ":" + m.topK() + ":"
                + m.hiddenSize() + ":" + m.expertIntermediateSize();
    }

    /**
     * A model named on the command line: a known id, or a shape (see {@link #parseShape}) that is then
     * registered here. Shared by synth and replay, which take the same --model.
     */
    public ModelShape resolve(String idOrShape) {
        if (idOrShape.contains(":")) {
            ModelShape shape = parseShape(idOrShape);
            register(shape);
            return shape;
        }
        return byId(idOrShape).orElseThrow(() -> new IllegalArgumentException("unknown model " + idOrShape
                + " (known: " + String.join(", ", all().keySet()) + "; or give a shape id:layers:moeLayers:experts:k)"));
    }

    /**
     * Parses a shape given on the command line:
     * {@code id:layers:moeLayers:experts:k[:hidden:intermediate]} where moeLayers is {@code all},
     * {@code odd}, {@code from=N} or a comma list of layer indices.
     */
    public static ModelShape parseShape(String spec) {
        String[] parts = spec.split(":");
        if (parts.length != 5 && parts.length != 7) {
            throw new IllegalArgumentException("model shape '" + spec
                    + "' must be id:layers:moeLayers:experts:k[:hidden:intermediate]");
        }
        try {
            int layers = Integer.parseInt(parts[1]);
            int[] moe = switch (parts[2]) {
                case "all" -> IntStream.range(0, layers).toArray();
                case "odd" -> IntStream.range(0, layers).filter(l -> l % 2 == 1).toArray();
                default -> parts[2].startsWith("from=")
                        ? IntStream.range(Integer.parseInt(parts[2].substring(5)), layers).toArray()
                        : java.util.Arrays.stream(parts[2].split(",")).mapToInt(Integer::parseInt).toArray();
            };
            int hidden = parts.length == 7 ? Integer.parseInt(parts[5]) : 7168;
            int inter = parts.length == 7 ? Integer.parseInt(parts[6]) : 2048;
            return new ModelShape(parts[0], layers, moe, Integer.parseInt(parts[3]), Integer.parseInt(parts[4]),
                    hidden, inter, 2.0);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("model shape '" + spec + "': " + e.getMessage(), e);
        }
    }
}
