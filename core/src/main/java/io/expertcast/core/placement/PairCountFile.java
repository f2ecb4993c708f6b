package io.expertcast.core.placement;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Per-layer expert co-activation counts (Insight 5): how often two experts were selected by the same
 * token at the same layer. {@code analyze --pairs-out} writes them, {@code place --policy
 * pair-separate --pairs} reads them. JSON, indexed by model layer like SGLang's logical_count (a
 * dense layer has no pairs), sparse:
 * <pre>
 * {"model": "deepseek-v3", "num_layers": 61, "num_experts": 256,
 *  "pair_count": [[[i, j, count], ...] per model layer]}      (i &lt; j, count &gt; 0)
 * </pre>
 */
public final class PairCountFile {
    private final String model;
    private final int experts;
    /** Per model layer its co-activations; null for a layer without pairs. */
    private final CoActivation[] counts;

    private PairCountFile(String model, int layers, int experts) {
        this.model = model;
        this.experts = experts;
        this.counts = new CoActivation[layers];
    }

    /** An empty accumulator for {@code model}'s layers. */
    public static PairCountFile empty(ModelShape model) {
        return new PairCountFile(model.id(), model.numLayers(), model.numExperts());
    }

    public String model() { return model; }
    public int layers() { return counts.length; }
    public int experts() { return experts; }

    /** Adds the pairs of every token of {@code r} in the chosen steps: decode (steps 1..) or prefill (step 0). */
    public void add(RequestTrace r, boolean decode) {
        ModelShape shape = r.model();
        if (!shape.id().equals(model) || shape.numExperts() != experts) {
            throw new IllegalArgumentException("pair counts of " + model + ", request of " + shape.id());
        }
        int k = shape.topK();
        int[] ids = new int[k];
        for (int s = decode ? 1 : 0; s < (decode ? r.numSteps() : Math.min(1, r.numSteps())); s++) {
            for (int t = 0; t < r.tokens(s); t++) {
                for (int m = 0; m < shape.numMoeLayers(); m++) {
                    int layer = shape.moeLayer(m);
                    if (counts[layer] == null) {
                        counts[layer] = new CoActivation(experts);
                    }
                    for (int a = 0; a < k; a++) {
                        ids[a] = r.expert(s, t, m, a);
                    }
                    counts[layer].addToken(ids, 0, k);
                }
            }
        }
    }

    /** The symmetric [expert][expert] counts of one model layer (zeros for a layer without pairs). */
    public double[][] matrix(int layer) {
        double[][] m = new double[experts][experts];
        CoActivation c = counts[layer];
        if (c != null) {
            for (int i = 0; i < experts; i++) {
                for (int j = i + 1; j < experts; j++) {
                    m[i][j] = c.count(i, j);
                    m[j][i] = m[i][j];
                }
            }
        }
        return m;
    }

    public void write(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("model", model);
        root.put("num_layers", counts.length);
        root.put("num_experts", experts);
        ArrayNode layers = root.putArray("pair_count");
        for (CoActivation c : counts) {
            ArrayNode triples = layers.addArray();
            if (c == null) {
                continue;
            }
            for (int i = 0; i < experts; i++) {
                for (int j = i + 1; j < experts; j++) {
                    if (c.count(i, j) > 0) {
                        triples.addArray().add(i).add(j).add(c.count(i, j));
                    }
                }
            }
        }
        json.writeValue(file.toFile(), root);
    }

    /**
     * Reads a file and checks it against the load it will be used with: {@code layers} x {@code experts}
     * (a logical_count file's shape) and, when not null, the model id. IOException naming the file otherwise.
     */
    public static PairCountFile read(Path file, int layers, int experts, String expectedModel) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.path("model").isTextual() || !root.path("num_experts").canConvertToInt()
                || !root.path("pair_count").isArray()) {
            throw new IOException(file + ": expected {\"model\", \"num_layers\", \"num_experts\", \"pair_count\": [[[i, j, count], ...] per layer]}");
        }
        String model = root.get("model").asText();
        if (expectedModel != null && !expectedModel.equals(model)) {
            throw new IOException(file + ": pair counts of model " + model + ", placing " + expectedModel);
        }
        int fileExperts = root.get("num_experts").asInt();
        JsonNode rows = root.get("pair_count");
        if (fileExperts != experts || rows.size() != layers) {
            throw new IOException(file + ": pair counts for " + rows.size() + " layers x " + fileExperts
                    + " experts (" + model + "), the load has " + layers + " x " + experts);
        }
        PairCountFile out = new PairCountFile(model, layers, experts);
        for (int l = 0; l < layers; l++) {
            JsonNode row = rows.get(l);
            if (!row.isArray()) {
                throw new IOException(file + ": pair_count[" + l + "] is not a list of [i, j, count]");
            }
            for (JsonNode t : row) {
                if (!t.isArray() || t.size() != 3 || !t.get(0).canConvertToInt() || !t.get(1).canConvertToInt()
                        || !t.get(2).isIntegralNumber()) {
                    throw new IOException(file + ": pair_count[" + l + "] holds " + t + ", expected [i, j, count]");
                }
                int i = t.get(0).asInt();
                int j = t.get(1).asInt();
                long c = t.get(2).asLong();
                if (i < 0 || j < 0 || i >= experts || j >= experts || i == j || c < 0) {
                    throw new IOException(file + ": pair_count[" + l + "] holds " + t + ": experts must be two different ids in 0.."
                            + (experts - 1) + " and the count >= 0");
                }
                if (out.counts[l] == null) {
                    out.counts[l] = new CoActivation(experts);
                }
                out.counts[l].add(i, j, c);
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "PairCountFile[" + model + ", " + counts.length + " layers x " + experts + " experts, "
                + Arrays.stream(counts).filter(c -> c != null).count() + " with pairs]";
    }
}
