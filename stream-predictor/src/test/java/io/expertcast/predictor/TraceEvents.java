package io.expertcast.predictor;

import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.SelectionEvent;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** Test data: request traces and the SelectionEvents a replayer would produce from them. */
final class TraceEvents {
    private TraceEvents() {
    }

    /**
     * A request with {@code prefillTokens} prefill tokens and {@code decodeSteps} decode steps; ids
     * drawn from a skewed distribution (low ids are hot) so recall is neither 0 nor 1.
     */
    static RequestTrace randomRequest(ModelShape shape, String id, int prefillTokens, int decodeSteps, long seed) {
        Random random = new Random(seed);
        List<int[]> steps = new ArrayList<>();
        steps.add(randomIds(shape, prefillTokens, random));
        for (int s = 0; s < decodeSteps; s++) {
            steps.add(randomIds(shape, 1, random));
        }
        return new RequestTrace(shape, id, "mmlu", "anatomy", "en", steps);
    }

    private static int[] randomIds(ModelShape shape, int tokens, Random random) {
        int[] ids = new int[tokens * shape.numMoeLayers() * shape.topK()];
        for (int row = 0; row < ids.length / shape.topK(); row++) {
            for (int slot = 0; slot < shape.topK(); slot++) {
                int expert;
                do {
                    double u = random.nextDouble();
                    expert = (int) (u * u * shape.numExperts());
                } while (contains(ids, row * shape.topK(), slot, expert));
                ids[row * shape.topK() + slot] = expert;
            }
        }
        return ids;
    }

    private static boolean contains(int[] ids, int base, int slots, int expert) {
        for (int s = 0; s < slots; s++) {
            if (ids[base + s] == expert) {
                return true;
            }
        }
        return false;
    }

    /** Prefill chunk [tokenOffset, tokenOffset + tokens) of a request. */
    static SelectionEvent prefillChunk(RequestTrace request, int tokenOffset, int tokens, long pass) {
        int perToken = request.model().numMoeLayers() * request.model().topK();
        int[] ids = Arrays.copyOfRange(request.steps().get(0), tokenOffset * perToken, (tokenOffset + tokens) * perToken);
        boolean last = request.numDecodeSteps() == 0 && tokenOffset + tokens == request.prefillTokens();
        return event(request, 0, tokenOffset, tokens, ids, pass, last);
    }

    static SelectionEvent decodeStep(RequestTrace request, int step, long pass) {
        return event(request, step, 0, 1, request.steps().get(step), pass, step == request.numDecodeSteps());
    }

    /**
     * The events of the requests as a lockstep replay sends them: every prefill in chunks of at most
     * {@code chunk} tokens, then decode step 1 of every request, then step 2, ...
     */
    static List<SelectionEvent> lockstep(List<RequestTrace> requests, int chunk) {
        List<SelectionEvent> events = new ArrayList<>();
        long pass = 0;
        for (RequestTrace request : requests) {
            for (int offset = 0; offset < request.prefillTokens(); offset += chunk) {
                events.add(prefillChunk(request, offset, Math.min(chunk, request.prefillTokens() - offset), pass++));
            }
        }
        int maxSteps = requests.stream().mapToInt(RequestTrace::numDecodeSteps).max().orElse(0);
        for (int step = 1; step <= maxSteps; step++) {
            for (RequestTrace request : requests) {
                if (step <= request.numDecodeSteps()) {
                    events.add(decodeStep(request, step, pass));
                }
            }
            pass++;
        }
        return events;
    }

    private static SelectionEvent event(RequestTrace request, int step, int tokenOffset, int tokens, int[] ids,
                                        long pass, boolean lastStep) {
        return SelectionEvent.newBuilder()
                .setModel(request.model().id())
                .setRequestId(request.requestId())
                .setStep(step)
                .setPhase(step == 0 ? Phase.PREFILL : Phase.DECODE)
                .setTokenOffset(tokenOffset)
                .setTokenCount(tokens)
                .setPassId(pass)
                .setBatchTokenOffset(0)
                .setNumMoeLayers(request.model().numMoeLayers())
                .setTopK(request.model().topK())
                .setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids)))
                .setLastStep(lastStep)
                .setBenchmark(request.benchmark())
                .setSubject(request.subject())
                .setLanguage(request.language())
                .setEventTimeMs(1_000L + pass)
                .build();
    }
}
