package io.expertcast.attach.proxy;

import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.SelectionEvent;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One finished request's routed experts as SelectionEvents: the prompt's tokens as step 0 (in events
 * of at most 256 tokens), then one decode step per row after them. An engine returns a row for every
 * token that went through a forward pass: the prompt and every generated token but the last, so a
 * request that generated c tokens has c - 1 decode steps. Ids are mapped to logical experts through
 * the physical-to-logical map when one is given (SGLang under EPLB returns physical slots).
 */
public final class RequestEvents {
    static final int MAX_EVENT_TOKENS = 256;

    /** Workload tags a client sent (any may be null). */
    public record Tags(String benchmark, String subject, String language) {
        public static final Tags NONE = new Tags(null, null, null);

        /** {@code benchmark=mmlu; subject=anatomy; language=en} (any order, any subset). */
        public static Tags parse(String header) {
            if (header == null || header.isBlank()) {
                return NONE;
            }
            Map<String, String> kv = new java.util.HashMap<>();
            for (String part : header.split("[;,]")) {
                int eq = part.indexOf('=');
                if (eq > 0) {
                    kv.put(part.substring(0, eq).strip().toLowerCase(java.util.Locale.ROOT), part.substring(eq + 1).strip());
                }
            }
            return new Tags(kv.get("benchmark"), kv.get("subject"), kv.get("language"));
        }
    }

    private RequestEvents() {
    }

    /**
     * @param physicalToLogical [layer][physical slot] -> logical expert, or null when the ids are logical
     * @param promptTokens      tokens of the prompt that went through the model (rows before the decode rows)
     */
    public static List<SelectionEvent> build(ModelShape model, int[][] physicalToLogical, String source, String requestId,
                                             int promptTokens, RoutedExperts.Rows rows, Tags tags, AtomicLong passIds,
                                             long nowMs) throws RoutedExperts.BadRoutedExperts {
        if (rows.layers() != model.numLayers() || rows.k() != model.topK()) {
            throw new RoutedExperts.BadRoutedExperts("routed experts of " + rows.layers() + " layers x top-" + rows.k()
                    + "; " + model.id() + " has " + model.numLayers() + " layers, top-" + model.topK());
        }
        if (promptTokens <= 0 || rows.tokens() < promptTokens) {
            throw new RoutedExperts.BadRoutedExperts("routed experts of " + rows.tokens() + " tokens for a prompt of "
                    + promptTokens);
        }
        int perToken = model.numMoeLayers() * model.topK();
        int[] ids = new int[rows.tokens() * perToken];
        for (int t = 0; t < rows.tokens(); t++) {
            for (int m = 0; m < model.numMoeLayers(); m++) {
                int layer = model.moeLayer(m);
                for (int a = 0; a < model.topK(); a++) {
                    int id = rows.at(t, layer, a);
                    int logical;
                    if (physicalToLogical != null) {
                        int[] map = physicalToLogical[layer];
                        if (id < 0 || id >= map.length) {
                            throw new RoutedExperts.BadRoutedExperts("token " + t + ", layer " + layer + ": physical expert "
                                    + id + " is outside the physical-to-logical map (" + map.length + " slots)");
                        }
                        logical = map[id];
                    } else {
                        logical = id;
                    }
                    if (logical < 0 || logical >= model.numExperts()) {
                        throw new RoutedExperts.BadRoutedExperts("token " + t + ", layer " + layer + ": expert " + logical
                                + " is outside " + model.id() + "'s " + model.numExperts()
                                + (physicalToLogical == null ? " (physical ids under EPLB need --physical-map)" : ""));
                    }
                    ids[t * perToken + m * model.topK() + a] = logical;
                }
            }
        }
        int decodeSteps = rows.tokens() - promptTokens;
        List<SelectionEvent> out = new ArrayList<>();
        long prefillPass = passIds.getAndIncrement();
        for (int at = 0; at < promptTokens; at += MAX_EVENT_TOKENS) {
            int n = Math.min(MAX_EVENT_TOKENS, promptTokens - at);
            out.add(event(model, source, requestId, 0, at, n, prefillPass, Arrays.copyOfRange(ids, at * perToken,
                    (at + n) * perToken), decodeSteps == 0 && at + n == promptTokens, tags, nowMs));
        }
        for (int s = 1; s <= decodeSteps; s++) {
            int row = promptTokens + s - 1;
            out.add(event(model, source, requestId, s, 0, 1, passIds.getAndIncrement(),
                    Arrays.copyOfRange(ids, row * perToken, (row + 1) * perToken), s == decodeSteps, tags, nowMs));
        }
        return out;
    }

    private static SelectionEvent event(ModelShape model, String source, String requestId, int step, int offset, int tokens,
                                        long passId, int[] ids, boolean last, Tags tags, long nowMs) {
        return SelectionEvent.newBuilder().setModel(model.id()).setRequestId(requestId).setStep(step)
                .setPhase(step == 0 ? Phase.PREFILL : Phase.DECODE).setTokenOffset(offset).setTokenCount(tokens)
                .setPassId(passId).setBatchTokenOffset(0).setNumMoeLayers(model.numMoeLayers()).setTopK(model.topK())
                .setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids))).setLastStep(last)
                .setBenchmark(tags.benchmark()).setSubject(tags.subject()).setLanguage(tags.language())
                .setEventTimeMs(nowMs).setSource(source).build();
    }
}
