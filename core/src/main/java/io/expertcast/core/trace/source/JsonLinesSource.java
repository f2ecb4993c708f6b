package io.expertcast.core.trace.source;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.JsonLinesTraces;
import io.expertcast.core.trace.RequestTrace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;

/**
 * A JSON-lines file ({@link JsonLinesTraces}); requests come in the order they close. A bad line
 * stops the replay: lines of one request can be far apart, so skipping cannot be done safely.
 */
public final class JsonLinesSource implements TraceSource {
    private final Path file;
    private final ModelCatalog catalog;

    public JsonLinesSource(Path file, ModelCatalog catalog) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("JSON-lines file " + file + " does not exist");
        }
        this.file = file;
        this.catalog = catalog;
    }

    @Override
    public Iterator<RequestTrace> requests(boolean skipBad, List<String> skippedOut) {
        return JsonLinesTraces.read(file, catalog);
    }

    @Override
    public int size() {
        return -1;
    }

    @Override
    public String describe() {
        return "jsonl " + file;
    }
}
