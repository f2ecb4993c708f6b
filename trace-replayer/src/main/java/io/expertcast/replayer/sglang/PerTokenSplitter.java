package io.expertcast.replayer.sglang;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits per_token passes into requests. SGLang records no request ids yet, so a request is followed
 * by its token positions:
 * <ul>
 *   <li>an EXTEND (or MIXED) pass cuts its tokens by {@code extend_seq_lens}; a chunk starting at
 *       position 0 is a new request's prefill, a chunk starting at p continues the request whose
 *       last position was p - 1 (a chunked prefill, or a decode token in a MIXED pass);</li>
 *   <li>a DECODE pass has one token per running request: a token at position p continues the
 *       request whose last position was p - 1.</li>
 * </ul>
 * A request missing from a DECODE pass has finished (SGLang decodes every running request in every
 * decode pass; a retracted request comes back with a new prefill from position 0, so as a new one).
 * When several open requests end at p - 1 the earliest admitted one not yet served in this pass is
 * taken (SGLang keeps its running batch in admission order) and the choice is counted as ambiguous;
 * a token that continues no open request began before the recording window and is dropped, and
 * counted. Physical slot ids map to logical experts through {@code last_physical_to_logical_map}.
 */
public final class PerTokenSplitter {
    static final int EXTEND = 1;
    static final int DECODE = 2;
    static final int MIXED = 3;
    static final int IDLE = 4;

    /** What the split recovered and what it could not. */
    public record Report(int passes, int requests, int ambiguousMatches, int droppedTokens, int droppedRequests,
                         List<String> notes) {
    }

    public record Result(List<RequestTrace> requests, Report report) {
    }

    private static final class Open {
        final int index;
        int lastPosition;
        final List<int[]> prefill = new ArrayList<>();
        final List<int[]> decode = new ArrayList<>();
        boolean broken;

        Open(int index) {
            this.index = index;
        }
    }

    private PerTokenSplitter() {
    }

    /** The model as the dump shows it: all recorded layers, MoE where any id was recorded, k = widest row. */
    public static ModelShape inferShape(RecorderDump.PerToken dump, String id) throws IOException {
        Tensor first = topk(dump, dump.records().get(0));
        int layers = first.dim(0);
        boolean[] moe = new boolean[layers];
        int k = 0;
        for (Map<String, Object> r : dump.records()) {
            Tensor t = topk(dump, r);
            int tokens = t.dim(1);
            int width = t.dim(2);
            for (int l = 0; l < layers; l++) {
                for (int tok = 0; tok < tokens; tok++) {
                    int n = 0;
                    for (int a = 0; a < width; a++) {
                        if (t.longAt(((long) l * tokens + tok) * width + a) >= 0) {
                            n++;
                        }
                    }
                    if (n > 0) {
                        moe[l] = true;
                        k = Math.max(k, n);
                    }
                }
            }
        }
        int[] moeLayers = java.util.stream.IntStream.range(0, layers).filter(l -> moe[l]).toArray();
        if (moeLayers.length == 0) {
            throw new IOException(dump.file() + ": no layer recorded any expert");
        }
        int experts = (int) LogicalCounts.max(dump.physicalToLogical()) + 1;
        return new ModelShape(id, layers, moeLayers, experts, k, 7168, 2048, 2.0);
    }

    public static Result split(RecorderDump.PerToken dump, ModelShape model, String requestPrefix) throws IOException {
        Tensor p2l = dump.physicalToLogical();
        if (p2l.dim(0) != model.numLayers()) {
            throw new IOException(dump.file() + ": the map has " + p2l.dim(0) + " layers, " + model.id() + " has "
                    + model.numLayers());
        }
        int physical = p2l.dim(1);
        List<Map<String, Object>> records = new ArrayList<>(dump.records());
        records.sort(Comparator.comparingLong(r -> number(r, "forward_pass_id", dump)));
        Map<Integer, Open> open = new LinkedHashMap<>();
        List<Open> all = new ArrayList<>();
        int ambiguous = 0;
        int dropped = 0;
        int passes = 0;
        List<String> notes = new ArrayList<>();
        for (Map<String, Object> r : records) {
            int mode = (int) number(r, "forward_mode", dump);
            if (mode == IDLE) {
                continue;
            }
            passes++;
            Tensor topk = topk(dump, r);
            List<Long> positions = longs(r.get("positions"), "positions", dump);
            int tokens = topk.dim(1);
            if (positions.size() != tokens || topk.dim(0) != model.numLayers()) {
                throw new IOException(dump.file() + ": pass " + r.get("forward_pass_id") + " has " + positions.size()
                        + " positions for topk_ids_of_layer " + topk);
            }
            List<Long> lens = r.get("extend_seq_lens") == null ? null : longs(r.get("extend_seq_lens"), "extend_seq_lens", dump);
            if (lens == null && mode != DECODE) {
                throw new IOException(dump.file() + ": pass " + r.get("forward_pass_id") + " is mode " + mode
                        + " without extend_seq_lens, so its tokens cannot be cut into requests");
            }
            List<int[]> chunks = new ArrayList<>(); // [start, length]
            if (lens == null) {
                for (int t = 0; t < tokens; t++) {
                    chunks.add(new int[] {t, 1});
                }
            } else {
                int at = 0;
                for (long len : lens) {
                    chunks.add(new int[] {at, (int) len});
                    at += (int) len;
                }
                if (at != tokens) {
                    throw new IOException(dump.file() + ": pass " + r.get("forward_pass_id") + ": extend_seq_lens sum to "
                            + at + ", the pass has " + tokens + " tokens");
                }
            }
            java.util.Set<Integer> served = new java.util.HashSet<>();
            for (int[] chunk : chunks) {
                long firstPos = positions.get(chunk[0]);
                List<int[]> ids = new ArrayList<>();
                boolean complete = true;
                for (int t = chunk[0]; t < chunk[0] + chunk[1]; t++) {
                    int[] token = token(topk, t, model, p2l, physical);
                    complete &= token != null;
                    ids.add(token);
                }
                Open target;
                if (firstPos == 0 && lens != null) {
                    target = new Open(all.size());
                    all.add(target);
                    open.put(target.index, target);
                    target.prefill.addAll(ids);
                } else {
                    List<Open> candidates = open.values().stream()
                            .filter(o -> o.lastPosition == firstPos - 1 && !served.contains(o.index)).toList();
                    if (candidates.isEmpty()) {
                        dropped += chunk[1];
                        continue;
                    }
                    if (candidates.size() > 1) {
                        ambiguous++;
                    }
                    target = candidates.get(0);
                    if (target.decode.isEmpty() && lens != null && chunk[1] > 1) {
                        target.prefill.addAll(ids); // a later chunk of a chunked prefill
                    } else if (chunk[1] == 1) {
                        target.decode.add(ids.get(0));
                    } else {
                        target.broken = true;
                        notes.add("pass " + r.get("forward_pass_id") + ": " + chunk[1] + " tokens continue request "
                                + target.index + " after its decode began; the request is dropped");
                    }
                }
                if (!complete) {
                    target.broken = true;
                }
                served.add(target.index);
                target.lastPosition = (int) (firstPos + chunk[1] - 1);
            }
            if (mode == DECODE) {
                // Every running request decodes in every decode pass: one that sat this pass out has finished.
                open.keySet().removeIf(index -> !served.contains(index));
            }
        }
        List<RequestTrace> out = new ArrayList<>();
        int droppedRequests = 0;
        for (Open o : all) {
            if (o.broken || o.prefill.isEmpty()) {
                droppedRequests++;
                continue;
            }
            List<int[]> steps = new ArrayList<>();
            int perToken = model.numMoeLayers() * model.topK();
            int[] prefill = new int[o.prefill.size() * perToken];
            for (int t = 0; t < o.prefill.size(); t++) {
                System.arraycopy(o.prefill.get(t), 0, prefill, t * perToken, perToken);
            }
            steps.add(prefill);
            steps.addAll(o.decode);
            out.add(new RequestTrace(model, model.id() + "/sglang-dump/" + requestPrefix + "/" + o.index, "sglang-dump",
                    requestPrefix, "unknown", steps));
        }
        if (droppedRequests > 0) {
            notes.add(droppedRequests + " request(s) dropped: a token lacked some of its k picks, or its tokens did not"
                    + " follow on");
        }
        return new Result(out, new Report(passes, out.size(), ambiguous, dropped, droppedRequests, notes));
    }

    /** A token's logical ids [moe layer][k], or null when a MoE layer has other than k recorded ids. */
    private static int[] token(Tensor topk, int t, ModelShape model, Tensor p2l, int physical) throws IOException {
        int tokens = topk.dim(1);
        int width = topk.dim(2);
        int k = model.topK();
        int[] ids = new int[model.numMoeLayers() * k];
        for (int m = 0; m < model.numMoeLayers(); m++) {
            int l = model.moeLayer(m);
            int n = 0;
            for (int a = 0; a < width; a++) {
                long slot = topk.longAt(((long) l * tokens + t) * width + a);
                if (slot < 0) {
                    continue;
                }
                if (slot >= physical) {
                    throw new IOException("physical expert " + slot + " at layer " + l + " is outside the map (" + physical
                            + " slots)");
                }
                if (n < k) {
                    ids[m * k + n] = (int) p2l.longAt((long) l * physical + slot);
                }
                n++;
            }
            if (n != k) {
                return null;
            }
        }
        return ids;
    }

    private static Tensor topk(RecorderDump.PerToken dump, Map<String, Object> r) throws IOException {
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
