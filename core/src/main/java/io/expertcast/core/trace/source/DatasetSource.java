package io.expertcast.core.trace.source;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;

/** A folder in the paper's dataset layout, in dataset order. */
public final class DatasetSource implements TraceSource {
    private static final int READ_THREADS = 2;
    private final Path root;
    private final TraceDataset dataset;

    public DatasetSource(Path root, ModelCatalog catalog, int experts) {
        this.root = root;
        this.dataset = TraceDataset.open(root, catalog, experts);
    }

    @Override
    public Iterator<RequestTrace> requests(boolean skipBad, List<String> skippedOut) {
        // Parsing is the replay's heaviest work: two threads read ahead while the producer sends.
        return dataset.requests(skipBad, skippedOut, READ_THREADS);
    }

    @Override
    public int size() {
        return dataset.files().size();
    }

    @Override
    public String describe() {
        return "traces " + root;
    }
}
