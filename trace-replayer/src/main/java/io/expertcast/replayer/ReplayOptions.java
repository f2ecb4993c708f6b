package io.expertcast.replayer;

import java.nio.file.Path;

/**
 * @param traces          the folder of a one-folder replay (unused by the several-sources entry point)
 * @param tokensPerSecond rate cap in tokens per second; {@code <= 0}: as fast as possible
 * @param limit           replay only the first N requests in dataset order; {@code <= 0}: all
 * @param skipBad         skip (and count) malformed trace files instead of stopping
 */
public record ReplayOptions(String bootstrap, Path traces, int batchSize, double tokensPerSecond, int limit,
                            boolean skipBad, int prefillChunk) {
}
