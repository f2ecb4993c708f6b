package io.expertcast.core.placement;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * SGLang's load statistics, {@code {"logical_count": [[count per logical expert] per layer]}}
 * (docs/formats.md section 3): what {@code place} reads and {@code import-sglang} writes.
 */
public final class LogicalCountFile {
    private LogicalCountFile() {
    }

    /** The counts [layer][logical expert]; IOException naming the file when the shape is wrong. */
    public static long[][] read(Path file) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
        JsonNode rows = root == null ? null : root.get("logical_count");
        if (rows == null || !rows.isArray() || rows.isEmpty()) {
            throw new IOException(file + ": expected {\"logical_count\": [[count per expert] per layer]}");
        }
        long[][] counts = new long[rows.size()][];
        for (int l = 0; l < rows.size(); l++) {
            JsonNode row = rows.get(l);
            if (!row.isArray() || row.isEmpty() || (l > 0 && row.size() != counts[0].length)) {
                throw new IOException(file + ": logical_count row " + l + " is not a list of "
                        + (l > 0 ? counts[0].length + " " : "") + "counts");
            }
            counts[l] = new long[row.size()];
            for (int e = 0; e < row.size(); e++) {
                if (!row.get(e).isNumber() || row.get(e).asDouble() < 0) {
                    throw new IOException(file + ": logical_count[" + l + "][" + e + "] is " + row.get(e)
                            + ", expected a count >= 0");
                }
                counts[l][e] = row.get(e).asLong();
            }
        }
        return counts;
    }

    public static void write(long[][] counts, Path file) throws IOException {
        new ObjectMapper().writeValue(file.toFile(), Map.of("logical_count", counts));
    }
}
