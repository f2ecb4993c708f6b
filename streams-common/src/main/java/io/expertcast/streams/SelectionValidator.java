package io.expertcast.streams;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.SelectionEvent;
import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * Checks a decoded SelectionEvent against the model catalog: known model, matching layer count
 * and k, payload length = tokens x layers x k ids, every id below the expert count, a phase that
 * agrees with the step. Returns the reason a record is rejected, or empty.
 */
public final class SelectionValidator {
    private final ModelCatalog catalog;

    public SelectionValidator(ModelCatalog catalog) {
        this.catalog = catalog;
    }

    public Optional<String> check(SelectionEvent e) {
        Optional<ModelShape> found = catalog.byId(e.getModel());
        if (found.isEmpty()) {
            return Optional.of("unknown model '" + e.getModel() + "'");
        }
        ModelShape shape = found.get();
        if (e.getRequestId() == null || e.getRequestId().isEmpty()) {
            return Optional.of("empty request id");
        }
        String sourceProblem = io.expertcast.schemas.Topics.sourceProblem(e.getSource());
        if (sourceProblem != null) {
            return Optional.of(sourceProblem);
        }
        if (e.getStep() < 0) {
            return Optional.of("negative step " + e.getStep());
        }
        if ((e.getStep() == 0) != (e.getPhase() == Phase.PREFILL)) {
            return Optional.of("phase " + e.getPhase() + " does not match step " + e.getStep());
        }
        if (e.getTokenCount() <= 0 || e.getTokenOffset() < 0 || e.getBatchTokenOffset() < 0) {
            return Optional.of("invalid token range offset=" + e.getTokenOffset() + " count=" + e.getTokenCount());
        }
        if (e.getPhase() == Phase.DECODE && e.getTokenCount() != 1) {
            return Optional.of("a decode step has one token, got " + e.getTokenCount());
        }
        if (e.getNumMoeLayers() != shape.numMoeLayers()) {
            return Optional.of("model " + shape.id() + " has " + shape.numMoeLayers() + " MoE layers, event has "
                    + e.getNumMoeLayers());
        }
        if (e.getTopK() != shape.topK()) {
            return Optional.of("wrong k: model " + shape.id() + " selects " + shape.topK() + " experts, event has "
                    + e.getTopK());
        }
        ByteBuffer ids = e.getExpertIds();
        long expected = 2L * e.getTokenCount() * shape.numMoeLayers() * shape.topK();
        if (ids.remaining() != expected) {
            return Optional.of("expert id payload has " + ids.remaining() + " bytes, expected " + expected
                    + " (tokens x layers x k x 2)");
        }
        int base = ids.position();
        for (int i = 0; i < expected; i += 2) {
            int id = (ids.get(base + i) & 0xFF) | ((ids.get(base + i + 1) & 0xFF) << 8);
            if (id >= shape.numExperts()) {
                return Optional.of("expert id " + id + " out of range (model " + shape.id() + " has "
                        + shape.numExperts() + " experts) at position " + (i / 2));
            }
        }
        return Optional.empty();
    }
}
