package io.expertcast.predictor;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.LayerSelections;
import io.expertcast.schemas.LayerTokens;
import java.util.List;

/**
 * Why a heatmap lesson (a {@link LayerSelections} record of moe.heatmap-lessons) cannot be counted. Only the
 * request side writes that topic; a record it did not write (or a bug) must neither stop the aggregator nor
 * count half of itself, so a record is checked whole before anything of it is counted.
 */
final class LessonProblems {
    private LessonProblems() {
    }

    /**
     * Why a record cannot be counted, or null: checked whole before anything is counted, so a record is
     * counted entirely or not at all. The model must be the catalog's with its experts and k; layers,
     * expert ids, row lengths and finished counts must fit it; packed entries must be whole.
     */
    static String of(ModelCatalog catalog, LayerSelections in) {
        var shape = catalog.byId(in.getModel());
        if (shape.isEmpty()) {
            return "unknown model '" + in.getModel() + "'";
        }
        int layers = shape.get().numMoeLayers();
        int experts = shape.get().numExperts();
        int k = shape.get().topK();
        if (in.getNumExperts() != experts || in.getTopK() != k) {
            return "model " + in.getModel() + " has " + experts + " experts and k = " + k + ", the record says "
                    + in.getNumExperts() + " and " + in.getTopK();
        }
        String[] packedProblem = {null};
        try {
            PackedLayerTokens.forEach(in.getPacked(), experts, k, (layer, previous, tokens, next) -> {
                if (packedProblem[0] == null) {
                    packedProblem[0] = rowProblem(layer, layers, experts, k, previous, tokens, next);
                }
            });
        } catch (RuntimeException e) { // a cut-short entry
            return "packed tokens are not whole: " + e;
        }
        if (packedProblem[0] != null) {
            return packedProblem[0];
        }
        for (LayerTokens layer : in.getLayers()) {
            String p = rowProblem(layer.getLayer(), layers, experts, k,
                    layer.getPrevious().isEmpty() ? null : LayerHeatmapProcessor.ints(layer.getPrevious()),
                    LayerHeatmapProcessor.ints(layer.getTokens()), LayerHeatmapProcessor.ints(layer.getNextLayer()));
            if (p != null) {
                return p;
            }
            List<Integer> finished = layer.getFinishedCounts();
            if (!finished.isEmpty() && finished.size() != experts) {
                return "layer " + layer.getLayer() + " has finished counts for " + finished.size() + " experts, not "
                        + experts;
            }
            for (int c : finished) {
                if (c < 0) {
                    return "layer " + layer.getLayer() + " has a negative finished count " + c;
                }
            }
        }
        return null;
    }

    private static String rowProblem(int layer, int layers, int experts, int k, int[] previous, int[] tokens,
                                     int[] next) {
        if (layer < 0 || layer >= layers) {
            return "layer " + layer + " out of range [0, " + layers + ")";
        }
        if (previous != null && previous.length != k || tokens.length % k != 0
                || next.length != 0 && next.length != tokens.length) {
            return "layer " + layer + ": rows are not k = " + k + " wide or the next layer's tokens do not match";
        }
        if (next.length > 0 && layer + 1 >= layers) {
            return "layer " + layer + " is the last MoE layer but has a next layer's tokens";
        }
        String bad = outOfRange(layer, previous == null ? tokens : previous, experts);
        bad = bad != null ? bad : outOfRange(layer, tokens, experts);
        return bad != null ? bad : outOfRange(layer, next, experts);
    }

    /** Why an id of {@code ids} is outside [0, experts), or null (runs for every entry of every batch). */
    private static String outOfRange(int layer, int[] ids, int experts) {
        for (int id : ids) {
            if (id < 0 || id >= experts) {
                return "layer " + layer + ": expert id " + id + " out of range [0, " + experts + ")";
            }
        }
        return null;
    }
}
