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
 * @param sourceId         the source id stamped on every record (SelectionEvent v2: a pass is identified by
 *                         model, source and pass id); null: the replay id, else a generated one
 * @param stepMs           an engine's pace: forward passes at least this many milliseconds apart (a decode
 *                         step of a large MoE model takes 20-50 ms); {@code <= 0}: no pace. With a token rate
 *                         too, each pass waits for both.
 * @param clientProperties Kafka client properties (TLS, SASL, ...) on top of the replayer's own settings
 */
public record ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                            boolean skipBad, int prefillChunk, String replayId, int checkpointPasses, String sourceId,
                            double stepMs, Map<String, Object> clientProperties) {

    public ReplayOptions {
        clientProperties = clientProperties == null ? Map.of() : Map.copyOf(clientProperties);
    }

    public ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                         boolean skipBad, int prefillChunk, String replayId, int checkpointPasses, String sourceId,
                         double stepMs) {
        this(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId, checkpointPasses,
                sourceId, stepMs, Map.of());
    }

    public ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                         boolean skipBad, int prefillChunk, String replayId, int checkpointPasses, String sourceId) {
        this(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId, checkpointPasses,
                sourceId, 0);
    }

    public ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                         boolean skipBad, int prefillChunk, String replayId, int checkpointPasses,
                         Map<String, Object> clientProperties) {
        this(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId, checkpointPasses,
                null, 0, clientProperties);
    }

    public ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                         boolean skipBad, int prefillChunk, String replayId, int checkpointPasses) {
        this(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId, checkpointPasses,
                (String) null);
    }

    public ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                         boolean skipBad, int prefillChunk) {
        this(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, null, 0);
    }

    /** The same replay at an engine's pace: passes {@code stepMs} apart. */
    public ReplayOptions withStepMs(double value) {
        return new ReplayOptions(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId,
                checkpointPasses, sourceId, value, clientProperties);
    }

    /** The same replay with these Kafka client properties. */
    public ReplayOptions withClientProperties(Map<String, Object> value) {
        return new ReplayOptions(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId,
                checkpointPasses, sourceId, stepMs, value);
    }

    /** The source id this replay stamps: the given one, else the replay id, else a new {@code replay-<8 hex>}. */
    public ReplayOptions withResolvedSource() {
        if (sourceId != null) {
            return this;
        }
        String id = replayId != null ? replayId
                : "replay-" + String.format("%08x", new java.security.SecureRandom().nextInt());
        return new ReplayOptions(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId,
                checkpointPasses, id, stepMs, clientProperties);
    }
}
