package io.expertcast.core.sglang;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Splits per_token passes into requests. SGLang records no request ids yet, so a request is followed
 * by its token positions and by how SGLang's scheduler forms batches (python/sglang/srt/managers/
 * scheduler.py, schedule_batch.py):
 * <ul>
 *   <li>an EXTEND pass is cut by {@code extend_seq_lens}. A chunk starting at position 0 is a new
 *       request. A chunk starting at p &gt; 0 is either the next piece of a chunked prefill (SGLang
 *       cuts only the last request of an EXTEND pass and continues it first in the next one, so only
 *       the first chunk of a pass can continue the previous pass's last prefill chunk, and only when
 *       that one ended at p - 1), or else a new request whose first p prompt tokens were prefix-cache
 *       hits (the radix cache is on by default; EXTEND computes only the uncached suffix, and the
 *       dataset's step 0 likewise holds only the computed tokens, formats.md section 1);</li>
 *   <li>a DECODE pass has one token per running request: a token at position p continues the open
 *       request whose last position was p - 1; a MIXED pass (--enable-mixed-chunk) holds prefill
 *       chunks plus 1-token chunks of running requests, told apart the same way;</li>
 *   <li>every running request decodes in every DECODE pass, so one absent from a DECODE pass has
 *       finished (a retracted request comes back later as a new prefill, usually with a cached prefix,
 *       and is then imported as a new request).</li>
 * </ul>
 * What cannot be recovered is counted, never silently guessed: when several open requests end at
 * p - 1, the earliest admitted one not yet served in this pass is taken (a running batch keeps
 * admission order, and tokens come in batch order) and the match is counted as ambiguous; a decode
 * token that continues no request of the window (it began before recording, or was prefilled on
 * another instance under prefill/decode disaggregation) is dropped and counted; passes of other
 * forward modes (speculative TARGET_VERIFY / DRAFT_EXTEND, PD PREBUILT, ...) are skipped and
 * counted; a token with other than k ids at a MoE layer drops its request. Physical slot ids map to
 * logical experts through {@code last_physical_to_logical_map}.
 */
public final class PerTokenSplitter {
    static final int EXTEND = 1;
    static final int DECODE = 2;
    static final int MIXED = 3;
    static final int IDLE = 4;

    /**
     * What the split recovered and what it could not.
     *
     * @param chunkedContinuations prefill chunks that continued a request cut at the end of the previous pass
     * @param cachedPrefixStarts   requests whose prefill began at a position &gt; 0 (prefix-cache hits not recorded)
     * @param ambiguousMatches     tokens that could continue several open requests (taken in admission order)
     * @param droppedTokens        decode tokens that continue no request of the window
     * @param droppedRequests      requests dropped because a token lacked some of its k picks, or its tokens did not follow on
     * @param skippedPasses        passes of forward modes other than EXTEND, DECODE, MIXED and IDLE
     * @param openAtEnd            requests still running when the window ended (their decode is cut short)
     */
    public record Report(int passes, int requests, int chunkedContinuations, int cachedPrefixStarts,
                         int ambiguousMatches, int droppedTokens, int droppedRequests, int skippedPasses,
                         int openAtEnd, List<String> notes) {
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
        Open chunkedTail = null; // the last prefill chunk of the latest EXTEND/MIXED pass: may continue first in the next
        int ambiguous = 0;
        int dropped = 0;
        int passes = 0;
        int chunked = 0;
        int cachedStarts = 0;
        Map<Integer, Integer> skippedModes = new TreeMap<>();
        List<String> notes = new ArrayList<>();
        for (Map<String, Object> r : records) {
            int mode = (int) number(r, "forward_mode", dump);
            if (mode == IDLE) {
                continue;
            }
            if (mode != EXTEND && mode != DECODE && mode != MIXED) {
                skippedModes.merge(mode, 1, Integer::sum);
                continue;
            }
            passes++;
            Object passId = r.get("forward_pass_id");
            Tensor topk = topk(dump, r);
            List<Long> positions = longs(r.get("positions"), "positions", dump);
            int tokens = topk.dim(1);
            if (positions.size() != tokens || topk.dim(0) != model.numLayers()) {
                throw new IOException(dump.file() + ": pass " + passId + " has " + positions.size()
                        + " positions for topk_ids_of_layer " + topk + " (expected [" + model.numLayers() + ", "
                        + positions.size() + ", k])");
            }
            List<Long> lens = r.get("extend_seq_lens") == null ? null : longs(r.get("extend_seq_lens"), "extend_seq_lens", dump);
            if (lens == null && mode != DECODE) {
                throw new IOException(dump.file() + ": pass " + passId + " is mode " + mode
                        + " without extend_seq_lens, so its tokens cannot be cut into requests");
            }
            List<int[]> chunks = new ArrayList<>(); // [start, length]
            if (mode == DECODE) {
                for (int t = 0; t < tokens; t++) {
                    chunks.add(new int[] {t, 1});
                }
            } else {
                int at = 0;
                for (long len : lens) {
                    if (len <= 0) {
                        throw new IOException(dump.file() + ": pass " + passId + ": extend_seq_lens holds " + len);
                    }
                    chunks.add(new int[] {at, (int) len});
                    at += (int) len;
                }
                if (at != tokens) {
                    throw new IOException(dump.file() + ": pass " + passId + ": extend_seq_lens sum to "
                            + at + ", the pass has " + tokens + " tokens");
                }
            }
            Set<Integer> served = new HashSet<>();
            Open lastPrefillChunk = null;
            for (int c = 0; c < chunks.size(); c++) {
                int[] chunk = chunks.get(c);
                long firstPos = positions.get(chunk[0]);
                for (int t = 1; t < chunk[1]; t++) {
                    if (positions.get(chunk[0] + t) != firstPos + t) {
                        throw new IOException(dump.file() + ": pass " + passId + ": positions of chunk " + c
                                + " do not follow on (" + positions.subList(chunk[0], chunk[0] + chunk[1]) + ")");
                    }
                }
                List<int[]> ids = new ArrayList<>();
                boolean complete = true;
                for (int t = chunk[0]; t < chunk[0] + chunk[1]; t++) {
                    int[] token = token(topk, t, model, p2l, physical, dump, passId);
                    complete &= token != null;
                    ids.add(token);
                }
                Open target;
                boolean prefill;
                if (mode != DECODE && firstPos > 0 && c == 0 && chunkedTail != null
                        && chunkedTail.lastPosition == firstPos - 1) {
                    target = chunkedTail; // the next piece of a chunked prefill
                    prefill = true;
                    chunked++;
                } else if (mode == DECODE || (mode == MIXED && chunk[1] == 1 && firstPos > 0)) {
                    List<Open> candidates = new ArrayList<>();
                    for (Open o : open.values()) {
                        if (o.lastPosition == firstPos - 1 && !served.contains(o.index)) {
                            candidates.add(o);
                        }
                    }
                    if (candidates.isEmpty() && mode == DECODE) {
                        dropped++;
                        continue;
                    }
                    if (candidates.size() > 1) {
                        ambiguous++;
                    }
                    target = candidates.isEmpty() ? null : candidates.get(0);
                    prefill = target == null; // MIXED: a 1-token prefill of a new request with a cached prefix
                } else {
                    target = null;
                    prefill = true;
                }
                if (target == null) {
                    target = new Open(all.size());
                    all.add(target);
                    open.put(target.index, target);
                    if (firstPos > 0) {
                        cachedStarts++;
                    }
                }
                if (prefill) {
                    if (!target.decode.isEmpty()) {
                        target.broken = true;
                        notes.add("pass " + passId + ": a prefill chunk continues request " + target.index
                                + " after its decode began; the request is dropped");
                    }
                    target.prefill.addAll(ids);
                    lastPrefillChunk = target;
                } else {
                    target.decode.add(ids.get(0));
                }
                if (!complete) {
                    target.broken = true;
                }
                served.add(target.index);
                target.lastPosition = (int) (firstPos + chunk[1] - 1);
            }
            if (mode == DECODE) {
                // Every running request decodes in every decode pass: one that sat this pass out has finished
                // (unless it is the prefill cut at the end of the last EXTEND pass, which continues there).
                Open tail = chunkedTail;
                open.values().removeIf(o -> !served.contains(o.index) && o != tail);
                if (tail != null && served.contains(tail.index)) {
                    chunkedTail = null;
                }
            } else {
                chunkedTail = lastPrefillChunk;
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
        int skipped = 0;
        for (Map.Entry<Integer, Integer> e : skippedModes.entrySet()) {
            skipped += e.getValue();
            notes.add(e.getValue() + " pass(es) of forward mode " + e.getKey() + " skipped (only EXTEND=1, DECODE=2,"
                    + " MIXED=3 are split; speculative decoding's TARGET_VERIFY/DRAFT_EXTEND passes are not)");
        }
        return new Result(out, new Report(passes, out.size(), chunked, cachedStarts, ambiguous, dropped,
                droppedRequests, skipped, open.size(), notes));
    }

    /** A token's logical ids [moe layer][k], or null when a MoE layer has other than k recorded ids. */
    private static int[] token(Tensor topk, int t, ModelShape model, Tensor p2l, int physical, RecorderDump dump,
                               Object passId) throws IOException {
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
                    throw new IOException(dump.file() + ": pass " + passId + ", token " + t + ": physical expert "
                            + slot + " at layer " + l + " is outside last_physical_to_logical_map (" + physical + " slots)");
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
