package io.expertcast.replayer;

import java.nio.file.Path;
import java.util.Map;

/**
 * @param traces           the folder of a one-folder replay (unused by the several-sources entry point)
 * @param tokensPerSecond  rate cap in tokens per second; {@code <= 0}: as fast as possible
 * @param limit            replay only the first N requests in source order; {@code <= 0}: all
 * @param skipBad          skip (and count) malformed trace files instead of stopping
 * @param replayId         names a resumable replay: sends go out in Kafka transactions that also commit
 *                         the replay's position to moe.replay-checkpoints, and a replay started again
 *                         with the same id continues where the last commit left it; null: no
 *                         transactions, no resume (an idempotent producer only)
 * @param checkpointPasses passes per transaction (and checkpoint) of a named replay
 * @param clientProperties Kafka client properties (TLS, SASL, ...) on top of the replayer's own settings
 */
public record ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                            boolean skipBad, int prefillChunk, String replayId, int checkpointPasses,
                            Map<String, Object> clientProperties) {

    public ReplayOptions {
        clientProperties = clientProperties == null ? Map.of() : Map.copyOf(clientProperties);
    }

    public ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                         boolean skipBad, int prefillChunk, String replayId, int checkpointPasses) {
        this(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId, checkpointPasses,
                Map.of());
    }

    public ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                         boolean skipBad, int prefillChunk) {
        this(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, null, 0);
    }
}
