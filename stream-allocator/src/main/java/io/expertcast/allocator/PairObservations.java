package io.expertcast.allocator;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.CoActivation;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PairObservation;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.streams.pass.CompletedPass;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Insight 5's live input: per completed forward pass and MoE layer the co-activations of its tokens
 * ({@link CoActivation}, the definition {@code analyze --pairs-out} counts with), one
 * {@link PairObservation} per layer with pairs. One record per layer, not per pass, bounds a record
 * by one layer's pairs (8 bytes each: 261 KB for 256 experts, 588 KB for Kimi-K2's 384 when a batch
 * of thousands of tokens co-activates every pair) however large the batch; a whole pass of
 * DeepSeek-V3 could reach 58 x 261 KB = 15 MB. Sparse, because a decode pass of tens of tokens
 * co-activates at most 28 pairs per token and layer, a small part of the 32,640.
 */
final class PairObservations {
    /** Bytes a record may take, well under Kafka's default max message size of 1 MB. */
    static final int MAX_RECORD_BYTES = 640 * 1024;

    private PairObservations() {
    }

    /** Whether the model's largest record (every pair of a layer co-activated) stays within {@link #MAX_RECORD_BYTES}. */
    static boolean fits(ModelShape model) {
        return model.topK() > 1 && model.numExperts() >= 2
                && (long) model.numExperts() * (model.numExperts() - 1) / 2 * 8 + 256 <= MAX_RECORD_BYTES;
    }

    /** One observation per MoE layer with co-activations, in layer order; {@code counter} is scratch of the model's experts. */
    static List<PairObservation> of(ModelShape model, CompletedPass completed, CoActivation counter) {
        int layers = model.numMoeLayers();
        int k = model.topK();
        ForwardPass pass = completed.pass();
        List<PairObservation> out = new ArrayList<>(layers);
        int[] ids = new int[k];
        for (int layer = 0; layer < layers; layer++) {
            counter.clear();
            for (SelectionEvent e : completed.selections()) {
                ByteBuffer packed = e.getExpertIds();
                int base = packed.position();
                for (int token = 0; token < e.getTokenCount(); token++) {
                    int pos = base + ((token * layers + layer) * k) * 2;
                    for (int slot = 0; slot < k; slot++, pos += 2) {
                        ids[slot] = (packed.get(pos) & 0xFF) | ((packed.get(pos + 1) & 0xFF) << 8);
                    }
                    counter.addToken(ids, 0, k);
                }
            }
            int n = counter.distinctPairs();
            if (n == 0) {
                continue;
            }
            ByteBuffer pairs = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (int p = 0; p < n; p++) {
                int cell = counter.cell(p);
                pairs.putInt(cell).putInt((int) counter.count(cell));
            }
            out.add(new PairObservation(model.id(), pass.getPassId(), layer, model.numExperts(), pairs.flip(),
                    pass.getEventTimeMs()));
        }
        counter.clear();
        return out;
    }

    /** The pairs of one observation as cells (i x experts + j) and counts; returns how many. */
    static int read(PairObservation o, int[] cells, long[] counts) {
        ByteBuffer b = o.getPairs().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining() / 8;
        for (int p = 0; p < n; p++) {
            cells[p] = b.getInt();
            counts[p] = b.getInt();
        }
        return n;
    }
}
