package io.expertcast.predictor;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What one event added to the request side's batches ({@link SelectionBatches}, {@link ScoreSums}) while they
 * wait to be handed on, as bytes for {@link PredictorTopology#PENDING_LESSONS_STORE}. The batches are in
 * memory; the store holds, in the transaction of each commit, every event added since the last
 * hand-on, so a task restarted after a crash adds them again at init and hands on exactly what it would have
 * (see docs/realtime-forecasting.md, "Exact across crashes").
 *
 * <p>In the store ({@link PendingBatchesStore}, written before each commit): key {@link #GENERATION} holds the
 * batches' generation G, bumped by every hand-on; key c = 0, 1, ... the events added between two commits of
 * generation G ({@link #join}: stamped with G). The events of G are the chunks 0.. up to the first missing or
 * stamped otherwise, in order: chunks are written in order from 0 after each bump, so a stale chunk of an
 * older generation is never read and nothing needs deleting.
 */
final class PendingLessons {
    private static final byte VERSION = 1;
    /** The store key of the generation. */
    static final long GENERATION = -1L;

    /** One event's selection lesson (its arguments to {@link SelectionBatches#add}). */
    record Selection(String model, int layers, int experts, int k, int shards, int[] previous, int[] ids,
                     long eventTimeMs) {
    }

    /** One of an event's scores (its arguments to {@link ScoreSums#add}). */
    record Score(String model, String predictor, String tag, int n, int k, int[] layerHits, int[] layerPredicted,
                 long requests, double[] spearman, long eventTimeMs) {
    }

    /** One event's lessons and the timestamp of its record. */
    record Event(long generation, long timestamp, Selection selection, List<Score> scores) {
        /** Adds this event to the batches, as processing it did. */
        void addTo(SelectionBatches selections, ScoreSums sums) {
            if (selection != null) {
                selections.add(selection.model, selection.layers, selection.experts, selection.k, selection.shards,
                        selection.previous, selection.ids, selection.eventTimeMs);
            }
            for (Score s : scores) {
                sums.add(s.model, s.predictor, s.tag, s.n, s.k, s.layerHits, s.layerPredicted, s.requests,
                        s.spearman, s.eventTimeMs);
            }
        }
    }

    private PendingLessons() {
    }

    /**
     * Bytes of events per store value at most (an event larger than it is a value of its own): the events
     * between two commits grow with the rate and the commit interval (a DeepSeek-V3 decode event ~0.6 KB, a
     * prefill chunk up to its input record's size), and a changelog record must stay under the 1 MB a
     * producer may send.
     */
    static final int MAX_CHUNK_BYTES = 256 * 1024;

    /** {@code events} in order, cut into runs of at most {@code maxBytes} (one event alone when it is larger). */
    static List<List<byte[]>> chunks(List<byte[]> events, int maxBytes) {
        List<List<byte[]>> out = new ArrayList<>();
        List<byte[]> run = new ArrayList<>();
        long bytes = 0;
        for (byte[] e : events) {
            if (!run.isEmpty() && bytes + e.length > maxBytes) {
                out.add(run);
                run = new ArrayList<>();
                bytes = 0;
            }
            run.add(e);
            bytes += e.length;
        }
        if (!run.isEmpty()) {
            out.add(run);
        }
        return out;
    }

    /** Events' bytes as one value of generation {@code generation}: it, the count, each as length and bytes. */
    static byte[] join(long generation, List<byte[]> events) {
        int size = 12;
        for (byte[] e : events) {
            size += 4 + e.length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).putLong(generation).putInt(events.size());
        for (byte[] e : events) {
            b.putInt(e.length).put(e);
        }
        return b.array();
    }

    /** The generation of a {@link #join}ed value. */
    static long generationOf(byte[] joined) {
        return ByteBuffer.wrap(joined).getLong();
    }

    /** The events of a {@link #join}ed value. */
    static List<byte[]> split(byte[] joined) {
        ByteBuffer b = ByteBuffer.wrap(joined);
        b.getLong();
        List<byte[]> events = new ArrayList<>(b.getInt());
        while (b.hasRemaining()) {
            byte[] e = new byte[b.getInt()];
            b.get(e);
            events.add(e);
        }
        return events;
    }

    static byte[] generation(long g) {
        return ByteBuffer.allocate(8).putLong(g).array();
    }

    static long generation(byte[] bytes) {
        return bytes == null ? 0 : ByteBuffer.wrap(bytes).getLong();
    }

    static byte[] encode(Event e) {
        int size = 1 + 8 + 8 + 1 + 4;
        Selection s = e.selection;
        if (s != null) {
            size += text(s.model) + 5 * 4 + 8 + ints(s.previous) + ints(s.ids);
        }
        for (Score c : e.scores) {
            size += text(c.model) + text(c.predictor) + text(c.tag) + 3 * 4 + 8 + 8 + ints(c.layerHits)
                    + ints(c.layerPredicted) + 4 + (c.spearman == null ? 0 : 8 * c.spearman.length);
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        b.put(VERSION).putLong(e.generation).putLong(e.timestamp).put((byte) (s == null ? 0 : 1));
        if (s != null) {
            putText(b, s.model);
            b.putInt(s.layers).putInt(s.experts).putInt(s.k).putInt(s.shards).putLong(s.eventTimeMs);
            putInts(b, s.previous);
            putInts(b, s.ids);
        }
        b.putInt(e.scores.size());
        for (Score c : e.scores) {
            putText(b, c.model);
            putText(b, c.predictor);
            putText(b, c.tag);
            b.putInt(c.n).putInt(c.k).putLong(c.requests).putLong(c.eventTimeMs);
            putInts(b, c.layerHits);
            putInts(b, c.layerPredicted);
            if (c.spearman == null) {
                b.putInt(-1);
            } else {
                b.putInt(c.spearman.length);
                for (double d : c.spearman) {
                    b.putDouble(d);
                }
            }
        }
        return b.array(); // sized exactly above
    }

    static Event decode(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        byte version = b.get();
        if (version != VERSION) {
            throw new IllegalArgumentException("pending lesson of version " + version + ", this reader knows "
                    + VERSION);
        }
        long generation = b.getLong();
        long timestamp = b.getLong();
        Selection s = null;
        if (b.get() == 1) {
            String model = getText(b);
            int layers = b.getInt();
            int experts = b.getInt();
            int k = b.getInt();
            int shards = b.getInt();
            long eventTimeMs = b.getLong();
            s = new Selection(model, layers, experts, k, shards, getInts(b), getInts(b), eventTimeMs);
        }
        int count = b.getInt();
        List<Score> scores = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            String model = getText(b);
            String predictor = getText(b);
            String tag = getText(b);
            int n = b.getInt();
            int k = b.getInt();
            long requests = b.getLong();
            long eventTimeMs = b.getLong();
            int[] hits = getInts(b);
            int[] predicted = getInts(b);
            int m = b.getInt();
            double[] spearman = m < 0 ? null : new double[m];
            for (int j = 0; j < m; j++) {
                spearman[j] = b.getDouble();
            }
            scores.add(new Score(model, predictor, tag, n, k, hits, predicted, requests, spearman, eventTimeMs));
        }
        return new Event(generation, timestamp, s, scores);
    }

    private static int text(String s) {
        return 4 + s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static void putText(ByteBuffer b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        b.putInt(bytes.length).put(bytes);
    }

    private static String getText(ByteBuffer b) {
        byte[] bytes = new byte[b.getInt()];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /**
     * Non-negative ints (expert ids, hit and prediction counts) in the narrowest width that holds them all:
     * length (-1 for null), width (1, 2 or 4 bytes), values. A DeepSeek-V3 token's 464 ids take 464 bytes.
     */
    private static int ints(int[] v) {
        return v == null ? 4 : 5 + v.length * width(v);
    }

    private static int width(int[] v) {
        int max = 0;
        for (int x : v) {
            max |= x;
        }
        return max >= 0 && max < 256 ? 1 : max >= 0 && max < 65536 ? 2 : 4;
    }

    private static void putInts(ByteBuffer b, int[] v) {
        if (v == null) {
            b.putInt(-1);
            return;
        }
        int w = width(v);
        b.putInt(v.length).put((byte) w);
        for (int x : v) {
            switch (w) {
                case 1 -> b.put((byte) x);
                case 2 -> b.putShort((short) x);
                default -> b.putInt(x);
            }
        }
    }

    private static int[] getInts(ByteBuffer b) {
        int n = b.getInt();
        if (n < 0) {
            return null;
        }
        int w = b.get();
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (w) {
                case 1 -> Byte.toUnsignedInt(b.get());
                case 2 -> Short.toUnsignedInt(b.getShort());
                default -> b.getInt();
            };
        }
        return v;
    }
}
