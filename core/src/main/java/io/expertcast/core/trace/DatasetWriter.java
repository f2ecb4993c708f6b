package io.expertcast.core.trace;

import io.expertcast.core.model.ModelShape;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes requests in the paper's dataset format (docs/formats.md section 1) so that {@link TraceDataset}
 * and every tool built on it read them back: {@code <root>/<org>/<model id>/<benchmark>/<subject>/<index>.json}.
 * The model folder is the model's id, which the reader resolves through the catalog; a shape the
 * catalog lacks is written beside it as {@value TraceDataset#SHAPE_FILE}. Steps are written one per
 * line, without the original's indentation (a DeepSeek request is then about 1 MB instead of 2.3).
 */
public final class DatasetWriter {
    private final Path root;
    private final String org;

    public DatasetWriter(Path root, String org) {
        this.root = root;
        this.org = org;
    }

    /** The folder holding a model's requests. */
    public Path modelFolder(ModelShape model) {
        return root.resolve(org).resolve(model.id());
    }

    /** Records a custom model's shape so readers need no --experts or --model-shape. */
    public void writeShape(ModelShape model, String shapeSpec) {
        try {
            Files.createDirectories(modelFolder(model));
            Files.writeString(modelFolder(model).resolve(TraceDataset.SHAPE_FILE), shapeSpec + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the shape of " + model.id(), e);
        }
    }

    /** Writes one request; its index is the last segment of its request id. Returns the file. */
    public Path write(RequestTrace request) {
        String id = request.requestId();
        String index = id.substring(id.lastIndexOf('/') + 1);
        Path file = modelFolder(request.model()).resolve(request.benchmark()).resolve(request.subject())
                .resolve(index + ".json");
        try {
            Files.createDirectories(file.getParent());
            try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
                writeSteps(request, out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return file;
    }

    private static void writeSteps(RequestTrace r, BufferedWriter out) throws IOException {
        ModelShape model = r.model();
        int layers = model.numMoeLayers();
        int k = model.topK();
        StringBuilder s = new StringBuilder(4096);
        s.append('[');
        for (int step = 0; step < r.numSteps(); step++) {
            s.append(step == 0 ? "\n{" : ",\n{");
            int tokens = r.tokens(step);
            int[] ids = r.steps().get(step);
            for (int layer = 0; layer < model.numLayers(); layer++) {
                if (layer > 0) {
                    s.append(", ");
                }
                s.append('"').append(layer).append("\": ");
                int m = model.moeIndexOf(layer);
                if (m < 0) {
                    s.append("null");
                    continue;
                }
                s.append('[');
                for (int t = 0; t < tokens; t++) {
                    s.append(t == 0 ? "[" : ", [");
                    int at = (t * layers + m) * k;
                    for (int a = 0; a < k; a++) {
                        if (a > 0) {
                            s.append(", ");
                        }
                        s.append(ids[at + a]);
                    }
                    s.append(']');
                }
                s.append(']');
            }
            s.append('}');
            out.append(s);
            s.setLength(0);
        }
        out.append("\n]\n");
    }
}
