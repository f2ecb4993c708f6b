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
 *       dataset's step 0 likewise holds only the computed tokens, docs/formats.md section 1);</li>
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
    private static final int DECODE = PerTokenPasses.DECODE;
    private static final int IDLE = PerTokenPasses.IDLE;

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
        Tensor first = PerTokenPasses.topk(dump, dump.records().get(0));
        int layers = first.dim(0);
        boolean[] moe = new boolean[layers];
        int k = 0;
        for (Map<String, Object> r : dump.records()) {
            Tensor t = PerTokenPasses.topk(dump, r);
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
        Tensor p2l = PerTokenPasses.physicalToLogical(dump, model);
        List<Map<String, Object>> records = PerTokenPasses.inPassOrder(dump);
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
            int mode = PerTokenPasses.mode(dump, r);
            if (mode == IDLE) {
                continue;
            }
            if (!PerTokenPasses.splittable(mode)) {
                skippedModes.merge(mode, 1, Integer::sum);
                continue;
            }
            passes++;
            PerTokenPasses.Pass pass = PerTokenPasses.pass(dump, r, mode, model);
            Object passId = pass.passId();
            List<PerTokenPasses.Chunk> chunks = pass.chunks();
            Set<Integer> served = new HashSet<>();
            Open lastPrefillChunk = null;
            for (int c = 0; c < chunks.size(); c++) {
                PerTokenPasses.Chunk chunk = chunks.get(c);
                long firstPos = chunk.firstPosition();
                List<int[]> ids = new ArrayList<>();
                boolean complete = true;
                for (int t = chunk.start(); t < chunk.start() + chunk.length(); t++) {
                    int[] token = token(pass, t, model, p2l, dump);
                    complete &= token != null;
                    ids.add(token);
                }
                PerTokenPasses.Placement<Open> placed = PerTokenPasses.place(mode, chunk, c, chunkedTail,
                        o -> o.lastPosition, open.values(), o -> served.contains(o.index));
                if (placed.dropped()) {
                    dropped++;
                    continue;
                }
                ambiguous += placed.ambiguous() ? 1 : 0;
                chunked += placed.chunkedContinuation() ? 1 : 0;
                Open target = placed.target();
                boolean prefill = placed.prefill();
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
                target.lastPosition = (int) (firstPos + chunk.length() - 1);
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
    private static int[] token(PerTokenPasses.Pass pass, int t, ModelShape model, Tensor p2l, RecorderDump dump)
            throws IOException {
        int[] ids = new int[model.numMoeLayers() * model.topK()];
        try {
            PerTokenPasses.token(pass, t, model, p2l, dump, ids, 0);
        } catch (PerTokenPasses.IncompleteToken e) {
            return null;
        }
        return ids;
    }
}
