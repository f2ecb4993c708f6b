package io.expertcast.core.sglang;

import io.expertcast.core.model.ModelShape;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * Reads the passes of a per_token recorder dump, the part that import-sglang ({@link PerTokenSplitter})
 * and the live attach's splitter share: passes in forward_pass_id order, each checked and cut into
 * chunks (by {@code extend_seq_lens}, or one token a chunk in a DECODE pass), and a token's physical
 * slots mapped to logical experts. Which request a chunk continues is the splitters' own business.
 */
public final class PerTokenPasses {
    public static final int EXTEND = 1;
    public static final int DECODE = 2;
    public static final int MIXED = 3;
    public static final int IDLE = 4;

    /** Tokens {@code [start, start + length)} of a pass, at positions from {@code firstPosition} on. */
    public record Chunk(int start, int length, long firstPosition) {
    }

    /** One EXTEND, DECODE or MIXED pass, checked: its topk tensor [layers, tokens, width] and its chunks. */
    public record Pass(Object passId, int mode, Tensor topk, List<Chunk> chunks) {
    }

    /** A token whose MoE layer holds other than k recorded ids. */
    public static final class IncompleteToken extends IOException {
        IncompleteToken(String message) {
            super(message);
        }
    }

    private PerTokenPasses() {
    }

    /** True for the forward modes the splitters cut into requests (EXTEND, DECODE, MIXED). */
    public static boolean splittable(int mode) {
        return mode == EXTEND || mode == DECODE || mode == MIXED;
    }

    /**
     * Where a chunk goes: {@code target} the open request it continues (null: a new request),
     * {@code prefill} whether it is prefill, {@code dropped} a decode token that continues no request,
     * {@code ambiguous} several requests could take it (the first admitted did), {@code chunkedContinuation}
     * the next piece of the previous pass's cut prefill.
     */
    public record Placement<T>(T target, boolean prefill, boolean dropped, boolean ambiguous,
                               boolean chunkedContinuation) {
    }

    /**
     * Places chunk {@code c} of a pass. SGLang cuts only the last request of an EXTEND pass and continues
     * it first in the next one, so only the first chunk may continue {@code tail} (the previous pass's
     * last prefill chunk, null when none may be continued), and only when that one ended just before.
     * Every DECODE token, and a MIXED pass's 1-token chunk past position 0, continues the open request
     * (in admission order, not yet served in this pass) that ended just before it; a MIXED chunk that
     * continues none is a new request's 1-token prefill with a cached prefix. Anything else is a new
     * request's prefill.
     */
    public static <T> Placement<T> place(int mode, Chunk chunk, int c, T tail, ToLongFunction<T> lastPosition,
                                         Iterable<T> open, Predicate<T> served) {
        long firstPos = chunk.firstPosition();
        if (mode != DECODE && firstPos > 0 && c == 0 && tail != null && lastPosition.applyAsLong(tail) == firstPos - 1) {
            return new Placement<>(tail, true, false, false, true);
        }
        if (mode == DECODE || (mode == MIXED && chunk.length() == 1 && firstPos > 0)) {
            T first = null;
            int count = 0;
            for (T o : open) {
                if (lastPosition.applyAsLong(o) == firstPos - 1 && !served.test(o)) {
                    first = count == 0 ? o : first;
                    count++;
                }
            }
            if (count == 0 && mode == DECODE) {
                return new Placement<>(null, false, true, false, false);
            }
            return new Placement<>(first, first == null, false, count > 1, false);
        }
        return new Placement<>(null, true, false, false, false);
    }

    /** The dump's records in forward_pass_id order. */
    public static List<Map<String, Object>> inPassOrder(RecorderDump.PerToken dump) {
        List<Map<String, Object>> records = new ArrayList<>(dump.records());
        records.sort(Comparator.comparingLong(r -> number(r, "forward_pass_id", dump)));
        return records;
    }

    /** The record's forward_mode. */
    public static int mode(RecorderDump.PerToken dump, Map<String, Object> r) {
        return (int) number(r, "forward_mode", dump);
    }

    /** The layer map's layer count must be the model's. */
    public static Tensor physicalToLogical(RecorderDump.PerToken dump, ModelShape model) throws IOException {
        Tensor p2l = dump.physicalToLogical();
        if (p2l.dim(0) != model.numLayers()) {
            throw new IOException(dump.file() + ": the map has " + p2l.dim(0) + " layers, " + model.id() + " has "
                    + model.numLayers());
        }
        return p2l;
    }

    /** A splittable pass read and checked: shapes agree, lengths sum up, each chunk's positions follow on. */
    public static Pass pass(RecorderDump.PerToken dump, Map<String, Object> r, int mode, ModelShape model)
            throws IOException {
        Object passId = r.get("forward_pass_id");
        Tensor topk = topk(dump, r);
        List<Long> positions = longs(r.get("positions"), "positions", dump);
        int tokens = topk.dim(1);
        if (positions.size() != tokens || topk.dim(0) != model.numLayers()) {
            throw new IOException(dump.file() + ": pass " + passId + " has " + positions.size()
                    + " positions for topk_ids_of_layer " + topk + " (expected [" + model.numLayers() + ", "
                    + positions.size() + ", k])");
        }
        List<Chunk> chunks = new ArrayList<>();
        if (mode == DECODE) {
            for (int t = 0; t < tokens; t++) {
                chunks.add(new Chunk(t, 1, positions.get(t)));
            }
            return new Pass(passId, mode, topk, chunks);
        }
        if (r.get("extend_seq_lens") == null) {
            throw new IOException(dump.file() + ": pass " + passId + " is mode " + mode
                    + " without extend_seq_lens, so its tokens cannot be cut into requests");
        }
        int at = 0;
        for (long len : longs(r.get("extend_seq_lens"), "extend_seq_lens", dump)) {
            if (len <= 0) {
                throw new IOException(dump.file() + ": pass " + passId + ": extend_seq_lens holds " + len);
            }
            if (at + len <= tokens) {
                chunks.add(new Chunk(at, (int) len, positions.get(at)));
            }
            at += (int) len;
        }
        if (at != tokens) {
            throw new IOException(dump.file() + ": pass " + passId + ": extend_seq_lens sum to " + at
                    + ", the pass has " + tokens + " tokens");
        }
        for (int c = 0; c < chunks.size(); c++) {
            Chunk chunk = chunks.get(c);
            for (int t = 1; t < chunk.length(); t++) {
                if (positions.get(chunk.start() + t) != chunk.firstPosition() + t) {
                    throw new IOException(dump.file() + ": pass " + passId + ": positions of chunk " + c
                            + " do not follow on (" + positions.subList(chunk.start(), chunk.start() + chunk.length())
                            + ")");
                }
            }
        }
        return new Pass(passId, mode, topk, chunks);
    }

    /**
     * Token t's logical ids [moe layer][k] into {@code out} from {@code at}; IncompleteToken when a MoE
     * layer has other than k ids, IOException when a slot lies outside the map.
     */
    public static void token(Pass pass, int t, ModelShape model, Tensor p2l, RecorderDump dump, int[] out, int at)
            throws IOException {
        Tensor topk = pass.topk();
        int tokens = topk.dim(1);
        int width = topk.dim(2);
        int physical = p2l.dim(1);
        int k = model.topK();
        for (int m = 0; m < model.numMoeLayers(); m++) {
            int l = model.moeLayer(m);
            int n = 0;
            for (int a = 0; a < width; a++) {
                long slot = topk.longAt(((long) l * tokens + t) * width + a);
                if (slot < 0) {
                    continue;
                }
                if (slot >= physical) {
                    throw new IOException(dump.file() + ": pass " + pass.passId() + ", token " + t
                            + ": physical expert " + slot + " at layer " + l
                            + " is outside last_physical_to_logical_map (" + physical + " slots)");
                }
                if (n < k) {
                    out[at + m * k + n] = (int) p2l.longAt((long) l * physical + slot);
                }
                n++;
            }
            if (n != k) {
                throw new IncompleteToken(dump.file() + ": pass " + pass.passId() + ", token " + t + ": layer " + l
                        + " has " + n + " expert ids, " + model.id() + " picks " + k);
            }
        }
    }

    /** The record's topk_ids_of_layer, an integer tensor [layers, tokens, width]. */
    public static Tensor topk(RecorderDump.PerToken dump, Map<String, Object> r) throws IOException {
        if (!(r.get("topk_ids_of_layer") instanceof Tensor t) || t.rank() != 3 || !t.isInteger()) {
            throw new IOException(dump.file() + ": pass " + r.get("forward_pass_id") + " has topk_ids_of_layer "
                    + r.get("topk_ids_of_layer") + ", expected int[layers, tokens, k]");
        }
        return t;
    }

    private static long number(Map<String, Object> r, String key, RecorderDump dump) {
        if (!(r.get(key) instanceof Number n)) {
            throw new IllegalArgumentException(dump.file() + ": a record lacks the number " + key);
        }
        return n.longValue();
    }

    private static List<Long> longs(Object list, String key, RecorderDump dump) throws IOException {
        if (!(list instanceof List<?> l)) {
            throw new IOException(dump.file() + ": " + key + " is not a list");
        }
        List<Long> out = new ArrayList<>();
        for (Object o : l) {
            if (!(o instanceof Number n)) {
                throw new IOException(dump.file() + ": " + key + " holds " + o);
            }
            out.add(n.longValue());
        }
        return out;
    }
}
