package io.expertcast.predictor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The {@code packed} field of {@link io.expertcast.schemas.LayerSelections} (v2): many
 * {@link io.expertcast.schemas.LayerTokens} entries of one model in one byte array, so the request side
 * sends a shard's tokens of a whole batch interval as one record and neither side builds a boxed
 * {@code Integer} per expert id. Entry: uint16 layer, uint16 tokens n, uint8 has previous, uint8 has next
 * layer, then the previous token's k ids (if any), the n x k ids, the next layer's n x k ids (if any),
 * little-endian; an id is one byte when the model has at most 256 experts, else two.
 */
final class PackedLayerTokens {
    private PackedLayerTokens() {
    }

    static boolean wideIds(int numExperts) {
        return numExperts > 256;
    }

    /** Appends entries to a growing buffer; one per (model, layer shard) on the request side. */
    static final class Writer {
        private final boolean wide;
        private byte[] bytes = new byte[4096];
        private int size;

        Writer(int numExperts) {
            this.wide = wideIds(numExperts);
        }

        boolean isEmpty() {
            return size == 0;
        }

        /**
         * One entry: the ids of layer {@code layer} of {@code tokens} tokens, token t's k ids at
         * {@code ids[t * stride + layer * k ...]}; {@code previous} (may be null) and the next layer are
         * read the same way ({@code previous} with its own offset, one token).
         */
        void add(int layer, int k, int[] previous, int previousAt, int[] ids, int tokens, int stride, boolean next) {
            int width = wide ? 2 : 1;
            ensure(6 + width * k * (tokens * (next ? 2 : 1) + (previous == null ? 0 : 1)));
            putShort(layer);
            putShort(tokens);
            bytes[size++] = (byte) (previous == null ? 0 : 1);
            bytes[size++] = (byte) (next ? 1 : 0);
            if (previous != null) {
                putIds(previous, previousAt + layer * k, k);
            }
            for (int t = 0; t < tokens; t++) {
                putIds(ids, t * stride + layer * k, k);
            }
            if (next) {
                for (int t = 0; t < tokens; t++) {
                    putIds(ids, t * stride + (layer + 1) * k, k);
                }
            }
        }

        /** The entries so far, and the writer empty again. */
        ByteBuffer drain() {
            ByteBuffer out = ByteBuffer.wrap(Arrays.copyOf(bytes, size));
            size = 0;
            return out;
        }

        private void putIds(int[] ids, int at, int k) {
            for (int i = 0; i < k; i++) {
                int id = ids[at + i];
                if (wide) {
                    putShort(id);
                } else {
                    bytes[size++] = (byte) id;
                }
            }
        }

        private void putShort(int v) {
            bytes[size++] = (byte) v;
            bytes[size++] = (byte) (v >>> 8);
        }

        private void ensure(int more) {
            if (size + more > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
            }
        }
    }

    /** What {@link #forEach} hands over per entry; arrays are reused between entries. */
    interface EntryVisitor {
        /** {@code previous} null when the entry has none, {@code next} empty at the last MoE layer. */
        void entry(int layer, int[] previous, int[] tokens, int[] next);
    }

    /** Every entry of a packed field, in order. */
    static void forEach(ByteBuffer packed, int numExperts, int k, EntryVisitor visitor) {
        ByteBuffer b = packed.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        boolean wide = wideIds(numExperts);
        int[] previous = new int[k];
        int[] empty = new int[0];
        while (b.hasRemaining()) {
            int layer = Short.toUnsignedInt(b.getShort());
            int n = Short.toUnsignedInt(b.getShort());
            boolean hasPrevious = b.get() != 0;
            boolean hasNext = b.get() != 0;
            if (hasPrevious) {
                read(b, wide, previous, k);
            }
            int[] tokens = new int[n * k];
            read(b, wide, tokens, tokens.length);
            int[] next = empty;
            if (hasNext) {
                next = new int[n * k];
                read(b, wide, next, next.length);
            }
            visitor.entry(layer, hasPrevious ? previous : null, tokens, next);
        }
    }

    private static void read(ByteBuffer b, boolean wide, int[] into, int count) {
        for (int i = 0; i < count; i++) {
            into[i] = wide ? Short.toUnsignedInt(b.getShort()) : Byte.toUnsignedInt(b.get());
        }
    }
}
