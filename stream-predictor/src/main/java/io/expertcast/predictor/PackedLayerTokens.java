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
 * Public for the aggregator's benchmark ({@code bench aggregator}).
 */
public final class PackedLayerTokens {
    private PackedLayerTokens() {
    }

    public static boolean wideIds(int numExperts) {
        return numExperts > 256;
    }

    /** Appends entries to a growing buffer; one per (model, layer shard) on the request side. */
    public static final class Writer {
        private final boolean wide;
        private byte[] bytes = new byte[4096];
        private int size;

        public Writer(int numExperts) {
            this.wide = wideIds(numExperts);
        }

        public boolean isEmpty() {
            return size == 0;
        }

        /**
         * One entry: the ids of layer {@code layer} of {@code tokens} tokens, token t's k ids at
         * {@code ids[t * stride + layer * k ...]}; {@code previous} (may be null) and the next layer are
         * read the same way ({@code previous} with its own offset, one token).
         */
        public void add(int layer, int k, int[] previous, int previousAt, int[] ids, int tokens, int stride, boolean next) {
            add(layer, k, previous, previousAt, ids, 0, tokens, stride, next);
        }

        /** As above, token t's ids at {@code ids[idsAt + t * stride + layer * k ...]}: a slice of an event's tokens. */
        public void add(int layer, int k, int[] previous, int previousAt, int[] ids, int idsAt, int tokens, int stride,
                        boolean next) {
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
                putIds(ids, idsAt + t * stride + layer * k, k);
            }
            if (next) {
                for (int t = 0; t < tokens; t++) {
                    putIds(ids, idsAt + t * stride + (layer + 1) * k, k);
                }
            }
        }

        /** The entries so far, and the writer empty again. */
        public ByteBuffer drain() {
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

    /**
     * What {@link #forEach} hands over per entry; arrays are reused between entries (a token array holds
     * exactly the entry's n x k ids).
     */
    public interface EntryVisitor {
        /** {@code previous} null when the entry has none, {@code next} empty at the last MoE layer. */
        void entry(int layer, int[] previous, int[] tokens, int[] next);
    }

    /** Every entry of a packed field, in order. */
    public static void forEach(ByteBuffer packed, int numExperts, int k, EntryVisitor visitor) {
        ByteBuffer b = packed.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        Scratch scratch = new Scratch(k);
        while (b.hasRemaining()) {
            visit(b, wideIds(numExperts), k, scratch, visitor);
        }
    }

    /**
     * Every entry of a packed field, layer-major: the entries of the layer seen first, in their order,
     * then those of the layer seen second, and so on. An entry only touches its own layer's tables, so this
     * counts exactly what {@link #forEach} counts, while one layer's tables (1 MB for DeepSeek-V3, in the
     * L2 cache) take a batch's updates one after another instead of every entry landing in another layer's
     * tables (60 MB for a whole model: DRAM).
     */
    public static void forEachByLayer(ByteBuffer packed, int numExperts, int k, EntryVisitor visitor) {
        forEachLayer(packed, numExperts, k, (layer, entries) -> entries.forEach(visitor));
    }

    /** One layer's entries of a batch, in their order; may be read more than once. */
    public interface LayerEntries {
        void forEach(EntryVisitor visitor);
    }

    /** What {@link #forEachLayer} hands over per layer. */
    public interface LayerVisitor {
        void layer(int layer, LayerEntries entries);
    }

    /**
     * Each layer of a packed field with its entries, layers in order of first appearance (the order of
     * {@link #forEachByLayer}), so a layer's tables can even take the entries once per table.
     */
    public static void forEachLayer(ByteBuffer packed, int numExperts, int k, LayerVisitor visitor) {
        ByteBuffer b = packed.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        boolean wide = wideIds(numExperts);
        int width = wide ? 2 : 1;
        // Pass 1: where each entry starts, its layer, and the layers in order of first appearance.
        int[] starts = new int[16];
        int[] layerOf = new int[16];
        int entries = 0;
        int[] rank = new int[64];                 // layer -> 1 + order of first appearance (0: not seen)
        int[] perRank = new int[16];              // entries per rank
        int ranks = 0;
        int base = b.position();
        while (b.hasRemaining()) {
            int at = b.position();
            if (b.remaining() < 6) {
                throw new IllegalArgumentException("packed tokens end inside an entry header");
            }
            int layer = Short.toUnsignedInt(b.getShort());
            int n = Short.toUnsignedInt(b.getShort());
            int ids = k * (n * (b.get(at + 5) != 0 ? 2 : 1) + (b.get(at + 4) != 0 ? 1 : 0));
            if (b.remaining() < 2 + ids * width) {
                throw new IllegalArgumentException("packed tokens end inside layer " + layer + "'s entry");
            }
            b.position(at + 6 + ids * width);
            if (entries == starts.length) {
                starts = Arrays.copyOf(starts, entries * 2);
                layerOf = Arrays.copyOf(layerOf, entries * 2);
            }
            if (layer >= rank.length) {
                rank = Arrays.copyOf(rank, Math.max(layer + 1, rank.length * 2));
            }
            if (rank[layer] == 0) {
                if (ranks == perRank.length) {
                    perRank = Arrays.copyOf(perRank, ranks * 2);
                }
                rank[layer] = ++ranks;
            }
            perRank[rank[layer] - 1]++;
            starts[entries] = at;
            layerOf[entries++] = layer;
        }
        // Pass 2: a stable counting sort of the entries by their layer's rank, then each visited.
        int[] first = new int[ranks + 1];
        for (int r = 0; r < ranks; r++) {
            first[r + 1] = first[r] + perRank[r];
        }
        int[] order = new int[entries];
        for (int e = 0; e < entries; e++) {
            order[first[rank[layerOf[e]] - 1]++] = starts[e];
        }
        Scratch scratch = new Scratch(k);
        int[] layerAt = new int[ranks];
        for (int e = 0; e < entries; e++) {
            layerAt[rank[layerOf[e]] - 1] = layerOf[e];
        }
        for (int r = 0, from = 0; r < ranks; r++) {
            int start = from;
            int end = first[r]; // after the sort, first[r] is where rank r's entries end
            visitor.layer(layerAt[r], v -> {
                for (int e = start; e < end; e++) {
                    b.position(order[e]);
                    visit(b, wide, k, scratch, v);
                }
            });
            from = end;
        }
        b.position(base);
    }

    /** Arrays handed to a visitor, reused while an entry's size stays the same (one decode token: always). */
    private static final class Scratch {
        final int[] previous;
        final int[] empty = new int[0];
        int[] tokens = empty;
        int[] next = empty;

        Scratch(int k) {
            previous = new int[k];
        }
    }

    /** Reads the entry at the buffer's position and hands it over. */
    private static void visit(ByteBuffer b, boolean wide, int k, Scratch s, EntryVisitor visitor) {
        int layer = Short.toUnsignedInt(b.getShort());
        int n = Short.toUnsignedInt(b.getShort());
        boolean hasPrevious = b.get() != 0;
        boolean hasNext = b.get() != 0;
        if (hasPrevious) {
            read(b, wide, s.previous, k);
        }
        if (s.tokens.length != n * k) {
            s.tokens = new int[n * k];
        }
        read(b, wide, s.tokens, s.tokens.length);
        int[] next = s.empty;
        if (hasNext) {
            if (s.next.length != n * k) {
                s.next = new int[n * k];
            }
            next = s.next;
            read(b, wide, next, next.length);
        }
        visitor.entry(layer, hasPrevious ? s.previous : null, s.tokens, next);
    }

    private static void read(ByteBuffer b, boolean wide, int[] into, int count) {
        for (int i = 0; i < count; i++) {
            into[i] = wide ? Short.toUnsignedInt(b.getShort()) : Byte.toUnsignedInt(b.get());
        }
    }
}
