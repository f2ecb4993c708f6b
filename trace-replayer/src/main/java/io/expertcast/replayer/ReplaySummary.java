package io.expertcast.replayer;

import java.util.List;
import java.util.Locale;

/** What a replay sent. {@code skipped} holds the message of every malformed file skipped; {@code sourceId} the source stamped. */
public record ReplaySummary(long requests, long passes, long events, long tokens, long bytes, double elapsedSeconds,
                            double eventsPerSecond, List<String> skipped, String sourceId) {

    public ReplaySummary(long requests, long passes, long events, long tokens, long bytes, double elapsedSeconds,
                         double eventsPerSecond, List<String> skipped) {
        this(requests, passes, events, tokens, bytes, elapsedSeconds, eventsPerSecond, skipped, "");
    }

    public String format() {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT,
                "replayed %d requests: %d passes, %d selection events, %d tokens, %.2f MB in %.2f s (%.0f events/s, %.0f tokens/s)%n",
                requests, passes, events, tokens, bytes / 1e6, elapsedSeconds, eventsPerSecond,
                elapsedSeconds > 0 ? tokens / elapsedSeconds : 0));
        if (!skipped.isEmpty()) {
            s.append("skipped ").append(skipped.size()).append(" malformed file(s):\n");
            skipped.forEach(m -> s.append("  ").append(m).append('\n'));
        }
        return s.toString();
    }
}
