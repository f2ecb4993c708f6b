package io.expertcast.replayer;

import java.nio.file.Path;

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
 */
public record ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                            boolean skipBad, int prefillChunk, String replayId, int checkpointPasses, String sourceId) {

    public ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                         boolean skipBad, int prefillChunk, String replayId, int checkpointPasses) {
        this(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId, checkpointPasses,
                null);
    }

    /** The source id this replay stamps: the given one, else the replay id, else a new {@code replay-<8 hex>}. */
    public ReplayOptions withResolvedSource() {
        if (sourceId != null) {
            return this;
        }
        String id = replayId != null ? replayId
                : "replay-" + String.format("%08x", new java.security.SecureRandom().nextInt());
        return new ReplayOptions(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, replayId,
                checkpointPasses, id);
    }

    public ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                         boolean skipBad, int prefillChunk) {
        this(bootstrap, traces, batchSize, tokensPerSecond, limit, skipBad, prefillChunk, null, 0);
    }
}
