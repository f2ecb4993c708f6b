package io.expertcast.core.sglang;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * One file of SGLang's expert distribution recorder (docs/formats.md section 2; the dict layouts are
 * those of {@code _DetailAccumulator.dump} and {@code _StatAccumulator.dump} in
 * python/sglang/srt/eplb/expert_distribution.py): per_token and per_pass files hold
 * {@code {"records": [...], "last_physical_to_logical_map": int[layers, physical]}}, a stat file
 * {@code {"rank", "logical_count": int[buffer, layers, logical], "average_utilization_rate_over_window"}}.
 */
public sealed interface RecorderDump {

    Path file();

    /** per_token: every record has topk_ids_of_layer (physical ids, -1 padded). */
    record PerToken(Path file, List<Map<String, Object>> records, Tensor physicalToLogical) implements RecorderDump {

        /** A 64-bit hash of what the passes recorded (pass ids, modes, positions, input ids, expert ids), rank aside. */
        public long contentHash() {
            long h = 0x9E3779B97F4A7C15L;
            for (Map<String, Object> r : records) {
                for (String key : List.of("forward_pass_id", "forward_mode", "positions", "input_ids", "extend_seq_lens")) {
                    h = mix(h, String.valueOf(r.get(key)).hashCode());
                }
                if (r.get("topk_ids_of_layer") instanceof Tensor t && t.isInteger()) {
                    for (int d : t.shape()) {
                        h = mix(h, d);
                    }
                    for (long i = 0; i < t.size(); i++) {
                        h = mix(h, t.longAt(i));
                    }
                }
            }
            return h;
        }

        private static long mix(long h, long v) {
            h ^= v + 0x9E3779B97F4A7C15L + (h << 6) + (h >>> 2);
            return h * 0xBF58476D1CE4E5B9L;
        }
    }

    /** per_pass: every record has global_physical_count [layers, physical]. */
    record PerPass(Path file, List<Map<String, Object>> records, Tensor physicalToLogical) implements RecorderDump {
    }

    /** stat: a ring buffer of logical counts; sum it over the buffer axis. */
    record Stat(Path file, Tensor logicalCount) implements RecorderDump {
    }

    /** Reads and classifies a .pt file; IOException (naming the file) when it is none of the three. */
    @SuppressWarnings("unchecked")
    static RecorderDump read(Path file) throws IOException {
        Object root = TorchPickle.read(file);
        if (!(root instanceof Map<?, ?> map)) {
            throw new IOException(file + ": not an expert distribution recorder dump (the pickle is a "
                    + (root == null ? "None" : root.getClass().getSimpleName()) + ", expected a dict)");
        }
        if (map.get("logical_count") instanceof Tensor counts) {
            if (counts.rank() != 3 || !counts.isInteger()) {
                throw new IOException(file + ": stat dump's logical_count is " + counts + ", expected int[buffer, layers, experts]");
            }
            return new Stat(file, counts);
        }
        if (map.get("records") instanceof List<?> records && map.get("last_physical_to_logical_map") instanceof Tensor p2l) {
            if (p2l.rank() != 2 || !p2l.isInteger()) {
                throw new IOException(file + ": last_physical_to_logical_map is " + p2l + ", expected int[layers, physical]");
            }
            for (long i = 0; i < p2l.size(); i++) {
                long logical = p2l.longAt(i);
                if (logical < 0 || logical >= 65535) {
                    throw new IOException(file + ": last_physical_to_logical_map maps physical slot " + (i % p2l.dim(1))
                            + " of layer " + (i / p2l.dim(1)) + " to logical expert " + logical);
                }
            }
            for (Object r : records) {
                if (!(r instanceof Map<?, ?>)) {
                    throw new IOException(file + ": a record is not a dict");
                }
            }
            List<Map<String, Object>> typed = (List<Map<String, Object>>) records;
            boolean perToken = !typed.isEmpty() && typed.stream().allMatch(r -> r.get("topk_ids_of_layer") instanceof Tensor);
            boolean perPass = typed.stream().allMatch(r -> r.get("global_physical_count") instanceof Tensor);
            if (perToken) {
                return new PerToken(file, typed, p2l);
            }
            if (perPass) {
                return new PerPass(file, typed, p2l);
            }
            throw new IOException(file + ": records are neither per_token (topk_ids_of_layer) nor per_pass (global_physical_count)");
        }
        throw new IOException(file + ": not an expert distribution recorder dump (keys " + new TreeSet<>(
                map.keySet().stream().map(String::valueOf).toList()) + "; expected records + last_physical_to_logical_map, or logical_count)");
    }
}
