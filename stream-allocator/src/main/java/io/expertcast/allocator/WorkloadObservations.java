package io.expertcast.allocator;

import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.WorkloadObservation;
import io.expertcast.streams.pass.CompletedPass;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Insight 6's input: per completed forward pass, the tokens per expert and MoE layer of each
 * workload tag in it (one {@link WorkloadObservation} per tag), so the profile of a tag learns from
 * the batches its requests share with others.
 */
final class WorkloadObservations {
    /** Stands for a tag part the selections do not carry. */
    static final String UNKNOWN = "-";

    private WorkloadObservations() {
    }

    /**
     * The workload tag of a selection: benchmark/subject/language (Ob4: hot experts differ by subject
     * and by language), {@value #UNKNOWN} for a part it does not carry, so untagged traffic is one
     * workload of its own.
     */
    static String tag(SelectionEvent e) {
        return part(e.getBenchmark()) + "/" + part(e.getSubject()) + "/" + part(e.getLanguage());
    }

    /** One observation per tag present in the pass, in tag order. */
    static List<WorkloadObservation> of(ModelShape model, CompletedPass completed) {
        Map<String, List<SelectionEvent>> byTag = new TreeMap<>();
        for (SelectionEvent e : completed.selections()) {
            byTag.computeIfAbsent(tag(e), t -> new ArrayList<>()).add(e);
        }
        ForwardPass pass = completed.pass();
        List<WorkloadObservation> out = new ArrayList<>(byTag.size());
        byTag.forEach((tag, selections) -> out.add(new WorkloadObservation(model.id(), tag, pass.getPassId(),
                model.numMoeLayers(), model.numExperts(), pack(PassPlanner.tokensPerExpert(model, selections)),
                pass.getEventTimeMs())));
        return out;
    }

    /** Counts laid out [layer][expert] as little-endian int32. */
    static ByteBuffer pack(int[] counts) {
        ByteBuffer b = ByteBuffer.allocate(counts.length * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(counts);
        return b;
    }

    /** The counts of one observation, [layer][expert]. */
    static int[][] counts(WorkloadObservation o) {
        ByteBuffer b = o.getCounts().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int[][] counts = new int[o.getNumMoeLayers()][o.getNumExperts()];
        for (int[] row : counts) {
            b.asIntBuffer().get(row);
            b.position(b.position() + row.length * Integer.BYTES);
        }
        return counts;
    }

    private static String part(CharSequence s) {
        return s == null || s.isEmpty() ? UNKNOWN : s.toString();
    }
}
