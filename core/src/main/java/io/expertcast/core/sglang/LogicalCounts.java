package io.expertcast.core.sglang;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Token -> expert assignment counts per layer and logical expert, the {@code logical_count} JSON of
 * docs/formats.md section 3, written by {@link io.expertcast.core.placement.LogicalCountFile} (what the
 * allocator's {@code place} reads): from per_pass and per_token
 * records through the physical -> logical map, or a stat dump's buffer summed.
 */
public final class LogicalCounts {
    private LogicalCounts() {
    }

    /** Sums records' global_physical_count [layers, physical] into [layers, logical]. */
    public static long[][] fromRecords(Iterable<Map<String, Object>> records, Tensor physicalToLogical, Path file)
            throws IOException {
        int layers = physicalToLogical.dim(0);
        int physical = physicalToLogical.dim(1);
        int logical = (int) max(physicalToLogical) + 1;
        long[][] counts = new long[layers][logical];
        for (Map<String, Object> r : records) {
            if (!(r.get("global_physical_count") instanceof Tensor c) || !c.isInteger() || c.rank() != 2 || c.dim(0) != layers
                    || c.dim(1) != physical) {
                throw new IOException(file + ": pass " + r.get("forward_pass_id") + " has global_physical_count "
                        + r.get("global_physical_count") + ", expected int[" + layers + ", " + physical + "]");
            }
            for (int l = 0; l < layers; l++) {
                for (int p = 0; p < physical; p++) {
                    counts[l][(int) physicalToLogical.longAt((long) l * physical + p)] += c.longAt((long) l * physical + p);
                }
            }
        }
        return counts;
    }

    /** A stat dump's [buffer, layers, logical] summed over the buffer (rows may be out of order or zero). */
    public static long[][] fromStat(Tensor logicalCount) {
        int rows = logicalCount.dim(0);
        int layers = logicalCount.dim(1);
        int logical = logicalCount.dim(2);
        long[][] counts = new long[layers][logical];
        for (int b = 0; b < rows; b++) {
            for (int l = 0; l < layers; l++) {
                for (int e = 0; e < logical; e++) {
                    counts[l][e] += logicalCount.longAt(((long) b * layers + l) * logical + e);
                }
            }
        }
        return counts;
    }

    static long max(Tensor t) {
        long m = Long.MIN_VALUE;
        for (long i = 0; i < t.size(); i++) {
            m = Math.max(m, t.longAt(i));
        }
        return m;
    }
}
