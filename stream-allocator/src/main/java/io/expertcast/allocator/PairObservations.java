package io.expertcast.allocator;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.CoActivation;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PairObservation;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.streams.pass.CompletedPass;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;

/**
 * Insight 5's live input: per completed forward pass the expert ids of its tokens, or of every s-th
 * token when it has more than {@link #MAX_TOKENS_PER_PASS} (s = ceil(tokens / 64), by position, so a
 * pass always gives the same sample; each carried token then weighs s). The model's task counts their
 * co-activations ({@link #count}, with {@link CoActivation}, the definition {@code analyze --pairs-out}
 * counts with).
 *
 * <p>Why ids and not pairs: a token's 8 ids take 16 bytes per layer, its 28 pairs 224 as (cell, count),
 * so a pass of 256 uniformly spread tokens gave 2.9 MB of pair records (58 per pass, one per layer)
 * against 59 KB of ids for 64 tokens; and the planning thread only copies ids, the counting (some
 * milliseconds per pass) runs on the task that keeps the counts. Why 64 tokens: a record is then
 * at most 64 x layers x k x 2 bytes (59 KB for DeepSeek-V3, 61 KB for Kimi-K2, the size of one
 * WorkloadObservation), whatever the batch; with a decay of 0.999 the counts still rest on some
 * 64,000 recent tokens, 55 co-activations per pair of a 256-expert layer on average, enough to tell
 * the frequent pairs, which is all a placement reads.
 */
final class PairObservations {
    /** Tokens of one pass carried; beyond, a stride sample. */
    static final int MAX_TOKENS_PER_PASS = 64;
    /** Bytes a record may take, well under Kafka's default max message size of 1 MB. */
    static final int MAX_RECORD_BYTES = 256 * 1024;

    private PairObservations() {
    }

    /** Bytes of the ids of the largest record of the model. */
    static long maxIdBytes(ModelShape model) {
        return (long) MAX_TOKENS_PER_PASS * model.numMoeLayers() * model.topK() * 2;
    }

    /** Whether the model has pairs (top-k > 1) and its largest record stays within {@link #MAX_RECORD_BYTES}. */
    static boolean fits(ModelShape model) {
        return model.topK() > 1 && model.numExperts() >= 2 && maxIdBytes(model) + 256 <= MAX_RECORD_BYTES;
    }

    /** The pass's (sampled) token selections; empty for a pass without tokens. */
    static Optional<PairObservation> of(ModelShape model, CompletedPass completed) {
        int layers = model.numMoeLayers();
        int k = model.topK();
        int perToken = layers * k * 2;
        long tokens = 0;
        for (SelectionEvent e : completed.selections()) {
            tokens += e.getTokenCount();
        }
        int stride = (int) Math.max(1, (tokens + MAX_TOKENS_PER_PASS - 1) / MAX_TOKENS_PER_PASS);
        int carried = (int) ((tokens + stride - 1) / stride);
        if (carried == 0) {
            return Optional.empty();
        }
        byte[] ids = new byte[carried * perToken];
        int out = 0;
        long position = 0; // of the event's first token in the pass
        for (SelectionEvent e : completed.selections()) {
            ByteBuffer packed = e.getExpertIds();
            int first = (int) ((stride - position % stride) % stride);
            position += e.getTokenCount();
            for (int token = first; token < e.getTokenCount(); token += stride) {
                packed.duplicate().position(packed.position() + token * perToken).get(ids, out * perToken, perToken);
                out++;
            }
        }
        ForwardPass pass = completed.pass();
        return Optional.of(new PairObservation(model.id(), pass.getPassId(), layers, k, model.numExperts(), carried,
                stride, ByteBuffer.wrap(ids), pass.getEventTimeMs()));
    }

    /**
     * Counts the co-activations of one layer of {@code o} into {@code counter} (cleared first), each
     * carried token counting once; the caller weighs them by {@link PairObservation#getWeight}.
     */
    static void count(PairObservation o, int layer, CoActivation counter, int[] scratch) {
        int layers = o.getNumMoeLayers();
        int k = o.getTopK();
        ByteBuffer b = o.getExpertIds().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int base = b.position();
        counter.clear();
        for (int token = 0; token < o.getTokens(); token++) {
            int pos = base + ((token * layers + layer) * k) * 2;
            for (int slot = 0; slot < k; slot++, pos += 2) {
                scratch[slot] = b.getShort(pos) & 0xFFFF;
            }
            counter.addToken(scratch, 0, k);
        }
    }
}
