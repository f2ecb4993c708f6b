package io.expertcast.attach.sglang;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.sglang.PerTokenPasses;
import io.expertcast.core.sglang.RecorderDump;
import io.expertcast.core.sglang.Tensor;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.SelectionEvent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Splits per_token recorder windows of one engine rank into requests, window after window: a
 * request still running at a window's end continues in the next window as the same request. The
 * matching rules are import-sglang's, shared in core (PerTokenPasses.place; SGLang records no request ids, so a token
 * at position p continues the open request that ended at p - 1, a prefill chunk at p &gt; 0 that
 * opens a pass continues the previous pass's cut prefill, and a request absent from a DECODE pass
 * has finished). Unlike the importer it publishes the engine's own passes, as they ran.
 *
 * <p>A request's last step is known only when a later DECODE pass lacks it, so each pass is held
 * until every one of its requests has either appeared again or finished; held passes and open
 * requests are the state carried from window to window (and into the attach checkpoint).
 * {@link #closeAll()} ends every open request: the recorder was restarted (or the server was), so
 * what follows cannot continue what came before.
 */
public final class LiveSplitter {
    private static final int DECODE = PerTokenPasses.DECODE;
    private static final int IDLE = PerTokenPasses.IDLE;
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Tokens per SelectionEvent at most (the replayer's prefill chunk). */
    public static final int MAX_EVENT_TOKENS = 256;

    /** One engine pass ready to publish: its ForwardPass and its selections, in batch order. */
    public record Published(ForwardPass pass, List<SelectionEvent> selections) {
    }

    /** What a window recovered and what it could not. */
    public record WindowReport(int passes, int newRequests, int continuedRequests, int finishedRequests,
                               int droppedTokens, int ambiguousMatches, int skippedPasses, int restartedPrefills) {
        public String format() {
            return String.format("%d passes, %d new requests, %d continued from the previous window, %d finished,"
                            + " %d decode tokens continuing no request (dropped), %d ambiguous matches (taken in"
                            + " admission order), %d passes of other forward modes skipped, %d prefill chunks after a"
                            + " decode (taken as new requests)", passes, newRequests, continuedRequests,
                    finishedRequests, droppedTokens, ambiguousMatches, skippedPasses, restartedPrefills);
        }
    }

    private static final class Open {
        final long id;
        int lastPosition;
        int nextStep = 1;
        int prefillTokens;
        boolean decoding;
        Entry last;

        Open(long id) {
            this.id = id;
        }
    }

    private static final class Entry {
        final long request;
        final int step;
        final int tokenOffset;
        final int tokenCount;
        final int[] ids;
        Boolean lastStep; // null until the request appears again or finishes

        Entry(long request, int step, int tokenOffset, int tokenCount, int[] ids) {
            this.request = request;
            this.step = step;
            this.tokenOffset = tokenOffset;
            this.tokenCount = tokenCount;
            this.ids = ids;
        }
    }

    private record Held(long passId, long timeMs, List<Entry> entries) {
    }

    private final ModelShape model;
    private final String source;
    private long nextRequest;
    private long nextPassId;
    private final Map<Long, Open> open = new LinkedHashMap<>();
    private Long chunkedTail;
    private final List<Held> held = new ArrayList<>();

    /** @param source the engine rank's source id: the events' source, and their request ids' prefix */
    public LiveSplitter(ModelShape model, String source) {
        this.model = model;
        this.source = source;
    }

    public ModelShape model() {
        return model;
    }

    public int openRequests() {
        return open.size();
    }

    public int heldPasses() {
        return held.size();
    }

    /**
     * Feeds one window (a per_token dump of this rank); returns the passes now decided. On an
     * IOException the window is bad and this splitter is unchanged only if the caller restores it
     * from {@link #state()} taken before (the attach does).
     */
    public List<Published> window(RecorderDump.PerToken dump, long nowMs, WindowReport[] reportOut) throws IOException {
        Tensor p2l = PerTokenPasses.physicalToLogical(dump, model);
        for (long i = 0; i < p2l.size(); i++) {
            if (p2l.longAt(i) >= model.numExperts()) {
                throw new IOException(dump.file() + ": last_physical_to_logical_map names logical expert " + p2l.longAt(i)
                        + ", " + model.id() + " has " + model.numExperts());
            }
        }
        List<Map<String, Object>> records = PerTokenPasses.inPassOrder(dump);
        Set<Long> openBefore = new HashSet<>(open.keySet());
        int passes = 0;
        int created = 0;
        int finished = 0;
        int dropped = 0;
        int ambiguous = 0;
        int skipped = 0;
        int restarted = 0;
        Set<Long> continued = new HashSet<>();
        for (Map<String, Object> r : records) {
            int mode = PerTokenPasses.mode(dump, r);
            if (mode == IDLE) {
                continue;
            }
            if (!PerTokenPasses.splittable(mode)) {
                skipped++;
                continue;
            }
            passes++;
            PerTokenPasses.Pass pass = PerTokenPasses.pass(dump, r, mode, model);
            List<PerTokenPasses.Chunk> chunks = pass.chunks();
            Set<Long> served = new HashSet<>();
            Long lastPrefillChunk = null;
            List<Entry> entries = new ArrayList<>();
            for (int c = 0; c < chunks.size(); c++) {
                PerTokenPasses.Chunk chunk = chunks.get(c);
                long firstPos = chunk.firstPosition();
                int perToken = model.numMoeLayers() * model.topK();
                int[] ids = new int[chunk.length() * perToken];
                for (int t = 0; t < chunk.length(); t++) {
                    PerTokenPasses.token(pass, chunk.start() + t, model, p2l, dump, ids, t * perToken);
                }
                Open tail = chunkedTail == null ? null : open.get(chunkedTail);
                PerTokenPasses.Placement<Open> placed = PerTokenPasses.place(mode, chunk, c,
                        tail != null && !tail.decoding ? tail : null, o -> o.lastPosition, open.values(),
                        o -> served.contains(o.id));
                if (placed.dropped()) {
                    dropped++;
                    continue;
                }
                if (placed.ambiguous()) {
                    ambiguous++;
                }
                Open target = placed.target();
                boolean prefill = placed.prefill();
                if (target != null && prefill && target.decoding) {
                    restarted++;
                    target = null; // a prefill chunk after decode began cannot continue it: a new request
                }
                if (target == null) {
                    target = new Open(nextRequest++);
                    open.put(target.id, target);
                    created++;
                } else if (openBefore.contains(target.id)) {
                    continued.add(target.id);
                }
                Entry e;
                if (prefill) {
                    e = new Entry(target.id, 0, target.prefillTokens, chunk.length(), ids);
                    target.prefillTokens += chunk.length();
                    lastPrefillChunk = target.id;
                } else {
                    e = new Entry(target.id, target.nextStep++, 0, 1, ids);
                    target.decoding = true;
                }
                if (target.last != null) {
                    target.last.lastStep = false;
                }
                target.last = e;
                entries.add(e);
                served.add(target.id);
                target.lastPosition = (int) (firstPos + chunk.length() - 1);
            }
            if (mode == DECODE) {
                // Every running request decodes in every decode pass: one that sat this pass out has finished
                // (unless it is the prefill cut at the end of the last EXTEND pass, which continues there).
                Long tailId = chunkedTail;
                List<Long> done = new ArrayList<>();
                for (Open o : open.values()) {
                    if (!served.contains(o.id) && !(tailId != null && o.id == tailId)) {
                        done.add(o.id);
                    }
                }
                for (long id : done) {
                    finish(open.remove(id));
                    finished++;
                }
                if (tailId != null && served.contains(tailId)) {
                    chunkedTail = null;
                }
            } else {
                chunkedTail = lastPrefillChunk;
            }
            if (!entries.isEmpty()) {
                held.add(new Held(nextPassId++, nowMs, entries));
            }
        }
        if (reportOut != null) {
            reportOut[0] = new WindowReport(passes, created, continued.size(), finished, dropped, ambiguous, skipped,
                    restarted);
        }
        return release();
    }

    /** Ends every open request (the recording was broken off) and releases every held pass. */
    public List<Published> closeAll() {
        for (Open o : open.values()) {
            finish(o);
        }
        open.clear();
        chunkedTail = null;
        return release();
    }

    private static void finish(Open o) {
        if (o.last != null) {
            o.last.lastStep = true;
        }
    }

    private List<Published> release() {
        List<Published> out = new ArrayList<>();
        while (!held.isEmpty() && held.get(0).entries().stream().allMatch(e -> e.lastStep != null)) {
            Held h = held.remove(0);
            List<SelectionEvent> events = new ArrayList<>();
            List<PassEntry> passEntries = new ArrayList<>();
            int offset = 0;
            int decodeTokens = 0;
            int perToken = model.numMoeLayers() * model.topK();
            for (Entry e : h.entries()) {
                // request ids stay unique across sources while consumers key requests by the id alone
                String requestId = source + "/" + e.request;
                // a long prefill chunk (SGLang's chunked_prefill_size is 8192 tokens) goes out in events of at
                // most MAX_EVENT_TOKENS, as the replayer chunks prefill, so a record stays well under 1 MB
                for (int at = 0; at < e.tokenCount; at += MAX_EVENT_TOKENS) {
                    int n = Math.min(MAX_EVENT_TOKENS, e.tokenCount - at);
                    events.add(SelectionEvent.newBuilder().setModel(model.id()).setRequestId(requestId).setStep(e.step)
                            .setPhase(e.step == 0 ? Phase.PREFILL : Phase.DECODE).setTokenOffset(e.tokenOffset + at)
                            .setTokenCount(n).setPassId(h.passId()).setBatchTokenOffset(offset + at)
                            .setNumMoeLayers(model.numMoeLayers()).setTopK(model.topK())
                            .setExpertIds(ByteBuffer.wrap(ExpertIds.pack(java.util.Arrays.copyOfRange(e.ids,
                                    at * perToken, (at + n) * perToken))))
                            .setLastStep(e.lastStep && at + n == e.tokenCount)
                            .setEventTimeMs(h.timeMs()).setSource(source).build());
                }
                passEntries.add(new PassEntry(requestId, e.step, e.tokenCount));
                offset += e.tokenCount;
                if (e.step > 0) {
                    decodeTokens += e.tokenCount;
                }
            }
            out.add(new Published(new ForwardPass(model.id(), h.passId(), passEntries, offset, decodeTokens, h.timeMs(),
                    source), events));
        }
        return out;
    }

    // ---- state, for the checkpoint ----

    /** Open requests and held passes as JSON (what a restarted attach needs to go on). */
    public String state() {
        ObjectNode root = JSON.createObjectNode();
        root.put("nextRequest", nextRequest);
        root.put("nextPassId", nextPassId);
        if (chunkedTail != null) {
            root.put("chunkedTail", chunkedTail);
        }
        ArrayNode opens = root.putArray("open");
        for (Open o : open.values()) {
            opens.addObject().put("id", o.id).put("lastPosition", o.lastPosition).put("nextStep", o.nextStep)
                    .put("prefillTokens", o.prefillTokens).put("decoding", o.decoding);
        }
        ArrayNode passes = root.putArray("held");
        for (Held h : held) {
            ObjectNode p = passes.addObject().put("passId", h.passId()).put("timeMs", h.timeMs());
            ArrayNode es = p.putArray("entries");
            for (Entry e : h.entries()) {
                ObjectNode n = es.addObject().put("request", e.request).put("step", e.step)
                        .put("tokenOffset", e.tokenOffset).put("tokenCount", e.tokenCount);
                if (e.lastStep != null) {
                    n.put("lastStep", e.lastStep);
                }
                ArrayNode ids = n.putArray("ids");
                for (int id : e.ids) {
                    ids.add(id);
                }
            }
        }
        return root.toString();
    }

    /** A splitter restored from {@link #state()}. */
    public static LiveSplitter restore(ModelShape model, String source, String state) throws IOException {
        LiveSplitter s = new LiveSplitter(model, source);
        if (state == null || state.isEmpty()) {
            return s;
        }
        JsonNode root = JSON.readTree(state);
        s.nextRequest = root.path("nextRequest").asLong();
        s.nextPassId = root.path("nextPassId").asLong();
        s.chunkedTail = root.has("chunkedTail") ? root.get("chunkedTail").asLong() : null;
        for (JsonNode o : root.path("open")) {
            Open x = new Open(o.get("id").asLong());
            x.lastPosition = o.get("lastPosition").asInt();
            x.nextStep = o.get("nextStep").asInt();
            x.prefillTokens = o.get("prefillTokens").asInt();
            x.decoding = o.get("decoding").asBoolean();
            s.open.put(x.id, x);
        }
        for (JsonNode p : root.path("held")) {
            List<Entry> entries = new ArrayList<>();
            for (JsonNode e : p.path("entries")) {
                int[] ids = new int[e.get("ids").size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = e.get("ids").get(i).asInt();
                }
                Entry x = new Entry(e.get("request").asLong(), e.get("step").asInt(), e.get("tokenOffset").asInt(),
                        e.get("tokenCount").asInt(), ids);
                x.lastStep = e.has("lastStep") ? e.get("lastStep").asBoolean() : null;
                entries.add(x);
                Open o = s.open.get(x.request);
                if (o != null) {
                    o.last = x; // held passes are in order, so the last one seen is the request's last entry
                }
            }
            s.held.add(new Held(p.get("passId").asLong(), p.get("timeMs").asLong(), entries));
        }
        return s;
    }
}
