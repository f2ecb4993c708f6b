package io.expertcast.replayer;

import java.util.List;
import java.util.Locale;

/**
 * What a replay sent. {@code skipped} holds the message of every malformed file skipped; {@code resume}
 * says what a named replay found on moe.replay-checkpoints (null: not named, or named and new);
 * {@code interrupted} that it was stopped (SIGTERM, Ctrl-C) before its sources ended; {@code customShapes} the
 * shape specs of models the standard catalog does not know (the stages need them as --model-shape);
 * {@code sourceId} the source stamped on its records.
 */
public record ReplaySummary(long requests, long passes, long events, long tokens, long bytes, double elapsedSeconds,
                            double eventsPerSecond, List<String> skipped, String resume, boolean interrupted,
                            List<String> customShapes, String sourceId) {

    public ReplaySummary(long requests, long passes, long events, long tokens, long bytes, double elapsedSeconds,
                         double eventsPerSecond, List<String> skipped, String resume, boolean interrupted,
                         List<String> customShapes) {
        this(requests, passes, events, tokens, bytes, elapsedSeconds, eventsPerSecond, skipped, resume, interrupted,
                customShapes, "");
    }

    public ReplaySummary(long requests, long passes, long events, long tokens, long bytes, double elapsedSeconds,
                         double eventsPerSecond, List<String> skipped) {
        this(requests, passes, events, tokens, bytes, elapsedSeconds, eventsPerSecond, skipped, null, false, List.of());
    }

    public String format() {
        StringBuilder s = new StringBuilder();
        if (resume != null) {
            s.append(resume).append('\n');
        }
        s.append(String.format(Locale.ROOT,
                "%s %d requests: %d passes, %d selection events, %d tokens, %.2f MB in %.2f s (%.0f events/s, %.0f tokens/s)%n",
                interrupted ? "interrupted after sending" : "replayed", requests, passes, events, tokens, bytes / 1e6,
                elapsedSeconds, eventsPerSecond, elapsedSeconds > 0 ? tokens / elapsedSeconds : 0));
        if (!skipped.isEmpty()) {
            s.append("skipped ").append(skipped.size()).append(" malformed file(s):\n");
            skipped.forEach(m -> s.append("  ").append(m).append('\n'));
        }
        for (String shape : customShapes) {
            String id = shape.substring(0, shape.indexOf(':'));
            s.append("model ").append(id).append(" is not in the standard catalog: start predictor, allocator and emulator"
                    + " with --model-shape ").append(shape).append(" (without it they dead-letter its records as unknown model)\n");
        }
        return s.toString();
    }
}
