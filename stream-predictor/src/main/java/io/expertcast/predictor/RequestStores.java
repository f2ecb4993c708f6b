package io.expertcast.predictor;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.RequestDecodeStep;
import io.expertcast.schemas.RequestForecastState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * What the request side holds of its requests (key: {@code Topics.requestKey}), in and out of two stores:
 * {@link PredictorTopology#REQUEST_STORE} (a request's state as of the end of its prefill, written by prefill
 * chunks only) and {@link PredictorTopology#REQUEST_STEPS_STORE} (what each decode step adds, a few hundred
 * bytes), with the decoding requests' {@link LiveRequest}s in memory as a cache of the two: an evicted or
 * restored request is rebuilt from them, bit for bit.
 */
final class RequestStores {
    private final ModelCatalog catalog;
    private final KeyValueStore<String, RequestForecastState> requests;
    private final KeyValueStore<String, RequestDecodeStep> steps;
    /** Decoding requests' state in memory, least recently stepped first. */
    private final Map<String, LiveRequest> live;

    /** At most {@code liveRequests} decoding requests in memory. */
    RequestStores(ModelCatalog catalog, KeyValueStore<String, RequestForecastState> requests,
                  KeyValueStore<String, RequestDecodeStep> steps, int liveRequests) {
        this.catalog = catalog;
        this.requests = requests;
        this.steps = steps;
        this.live = new LinkedHashMap<>(256, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, LiveRequest> eldest) {
                return size() > liveRequests; // an evicted request is rebuilt from the stores at its next step
            }
        };
    }

    /** The request's state as of its last prefill chunk; null without one. */
    RequestForecastState prefill(String requestId) {
        return requests.get(requestId);
    }

    /** A prefill chunk's new state; a decoding state built before it (by a rejected step) is dropped. */
    void putPrefill(String requestId, RequestForecastState state) {
        live.remove(requestId);
        requests.put(requestId, state);
    }

    /**
     * A decoding request's state: in memory, or rebuilt from the stores (its state as of the end of prefill,
     * then its stored steps replayed in order, the plans from the first); null without a prefill.
     */
    LiveRequest live(String requestId) {
        LiveRequest r = live.get(requestId);
        if (r != null) {
            return r;
        }
        RequestForecastState state = requests.get(requestId);
        if (state == null) {
            return null;
        }
        ModelShape shape = catalog.byId(state.getModel()).orElseThrow();
        r = new LiveRequest(state.getModel(), RequestStates.history(shape, state), RequestStates.lastToken(state),
                state.getEventTimeMs());
        if (state.getPlannedExperts() != null) {
            // A state written by an older predictor, which kept the plans in it.
            r.blendedPlan = toArrays(state.getPlannedExperts());
            r.prefillOnlyPlan = toArrays(state.getPrefillOnlyExperts());
        }
        try (KeyValueIterator<String, RequestDecodeStep> it = stepsOf(requestId)) {
            while (it.hasNext()) {
                RequestDecodeStep step = it.next().value;
                if (step.getBlendedPlan().hasRemaining()) { // the first decode step carries the plans
                    r.blendedPlan = DecodeSteps.decode(step.getBlendedPlan(), shape.numMoeLayers());
                    r.prefillOnlyPlan = DecodeSteps.decode(step.getPrefillOnlyPlan(), shape.numMoeLayers());
                }
                r.replay(step.getStep(), RequestForecastProcessor.unpack(step.getExpertIds()),
                        DecodeSteps.decode(step.getNextTokenExperts(), shape.numMoeLayers()), step.getEventTimeMs());
            }
        }
        live.put(requestId, r);
        return r;
    }

    /** What a scored decode step adds to the request's state. */
    void putStep(String requestId, RequestDecodeStep step) {
        steps.put(DecodeSteps.key(requestId, step.getStep()), step);
    }

    /**
     * Whether the request's first decode step was processed: it has its plans in memory, or (evicted or
     * restored) a stored step, or (a state written by an older predictor) plans in its state. Prefill
     * chunks are rare: the prefix scan is fine there.
     */
    boolean decodeBegan(String requestId, RequestForecastState state) {
        LiveRequest r = live.get(requestId);
        if (r != null) {
            return r.blendedPlan != null;
        }
        if (state.getPlannedExperts() != null) {
            return true;
        }
        try (KeyValueIterator<String, RequestDecodeStep> it = stepsOf(requestId)) {
            return it.hasNext();
        }
    }

    /** Everything held of a request: its state, its steps, its live state. */
    void delete(String requestId) {
        requests.delete(requestId);
        List<String> keys = new ArrayList<>();
        try (KeyValueIterator<String, RequestDecodeStep> it = stepsOf(requestId)) {
            it.forEachRemaining(kv -> keys.add(kv.key));
        }
        keys.forEach(steps::delete);
        live.remove(requestId);
    }

    /** Every request whose last step (or prefill) is older than {@code cutoffMs} of event time, with that time. */
    Map<String, Long> idleSince(long cutoffMs) {
        Map<String, Long> idle = new LinkedHashMap<>();
        try (KeyValueIterator<String, RequestForecastState> all = requests.all()) {
            while (all.hasNext()) {
                var entry = all.next();
                long last = lastEventTimeMs(entry.key, entry.value);
                if (last < cutoffMs) {
                    idle.put(entry.key, last);
                }
            }
        }
        return idle;
    }

    /** When a request last had a step: its live state, else its last stored step, else its prefill. */
    private long lastEventTimeMs(String requestId, RequestForecastState state) {
        LiveRequest r = live.get(requestId);
        if (r != null) {
            return r.eventTimeMs;
        }
        long last = state.getEventTimeMs();
        try (KeyValueIterator<String, RequestDecodeStep> it = stepsOf(requestId)) {
            while (it.hasNext()) {
                last = Math.max(last, it.next().value.getEventTimeMs());
            }
        }
        return last;
    }

    private KeyValueIterator<String, RequestDecodeStep> stepsOf(String requestId) {
        return steps.prefixScan(DecodeSteps.prefix(requestId), new StringSerializer());
    }

    private static int[][] toArrays(List<List<Integer>> lists) {
        int[][] a = new int[lists.size()][];
        for (int l = 0; l < a.length; l++) {
            a[l] = lists.get(l).stream().mapToInt(Integer::intValue).toArray();
        }
        return a;
    }
}
