package io.expertcast.emulator.http;

import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Phase;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The page's view of recent requests, from the selections the emulator reads on moe.selections:
 * per request its prefill counts [MoE layer][expert] and its decode counts so far, for the last
 * {@value #CAPACITY} requests seen (oldest forgotten first). An observer, like {@link WaferSnapshot}.
 */
public final class RequestBook {
    static final int CAPACITY = 64;

    private static final class Counts {
        final String model;
        final int[][] prefill;
        final int[][] decode;
        int prefillTokens;
        int decodeTokens;
        boolean finished;

        Counts(String model, int layers, int experts) {
            this.model = model;
            this.prefill = new int[layers][experts];
            this.decode = new int[layers][experts];
        }
    }

    private final Map<String, Counts> requests = new LinkedHashMap<>(CAPACITY, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Counts> eldest) {
            return size() > CAPACITY;
        }
    };

    /** Counts the events of a pass (already validated against the model). */
    public synchronized void observe(List<SelectionEvent> events, int experts) {
        for (SelectionEvent e : events) {
            int layers = e.getNumMoeLayers();
            int k = e.getTopK();
            Counts c = requests.get(e.getRequestId());
            if (c == null) {
                c = new Counts(e.getModel(), layers, experts);
                requests.put(e.getRequestId(), c);
            }
            if (c.prefill.length != layers) {
                continue;
            }
            boolean prefill = e.getPhase() == Phase.PREFILL;
            int[][] into = prefill ? c.prefill : c.decode;
            ByteBuffer ids = e.getExpertIds().duplicate().order(ByteOrder.LITTLE_ENDIAN);
            int tokens = ids.remaining() / 2 / Math.max(1, layers * k);
            for (int t = 0; t < tokens; t++) {
                for (int l = 0; l < layers; l++) {
                    for (int j = 0; j < k; j++) {
                        int id = Short.toUnsignedInt(ids.getShort());
                        if (id < experts) {
                            into[l][id]++;
                        }
                    }
                }
            }
            if (prefill) {
                c.prefillTokens += tokens;
            } else {
                c.decodeTokens += tokens;
            }
            c.finished |= e.getLastStep();
        }
    }

    /** The requests held, newest last: id, model, prefill and decode tokens, finished. */
    public synchronized List<Map<String, Object>> list() {
        List<Map<String, Object>> out = new ArrayList<>();
        requests.forEach((id, c) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", id);
            m.put("model", c.model);
            m.put("prefill_tokens", c.prefillTokens);
            m.put("decode_tokens", c.decodeTokens);
            m.put("finished", c.finished);
            out.add(m);
        });
        return out;
    }

    /** One request's prefill and decode counts [MoE layer][expert], or null when not held. */
    public synchronized Map<String, Object> request(String id) {
        Counts c = requests.get(id);
        if (c == null) {
            return null;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("model", c.model);
        m.put("prefill_tokens", c.prefillTokens);
        m.put("decode_tokens", c.decodeTokens);
        m.put("finished", c.finished);
        m.put("prefill", copy(c.prefill));
        m.put("decode", copy(c.decode));
        return m;
    }

    private static int[][] copy(int[][] a) {
        int[][] out = new int[a.length][];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i].clone();
        }
        return out;
    }
}
