package io.expertcast.streams.pass;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.SelectionEvent;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * Steps requests as a serving engine's batch does, the way the paper fills batches: B slots filled
 * in dataset order; every forward pass each active request contributes its next step (a newly
 * admitted request its prefill, the others one decode token); a request that finished frees its
 * slot, refilled for the next pass. A batch holds one model: a request of another model waits
 * until the batch has drained. Prefill is split into events of at most {@code prefillChunk} tokens.
 */
public final class BatchScheduler implements Iterator<ScheduledPass> {
    private final Iterator<RequestTrace> source;
    private final int prefillChunk;
    private final LongSupplier clockMs;
    private final RequestTrace[] slots;
    private final int[] nextStep;
    private final long[] slotIndex;
    private final Resume resume;
    private RequestTrace waiting;
    private long waitingIndex;
    private long taken;
    private long passId;
    private final String sourceId;

    /**
     * Where a resumed replay picks up: requests before {@code nextRequest} (in source order) were sent
     * already, except those in {@code inFlight} (index -> first step not yet sent), which continue.
     */
    public record Resume(long nextRequest, long nextPassId, Map<Long, Integer> inFlight) {
        public static final Resume NONE = new Resume(0, 0, Map.of());
    }

    /** Where the scheduler stands now, for a checkpoint. */
    public record Position(long nextRequest, long nextPassId, Map<Long, Integer> inFlight) {
    }

    public BatchScheduler(Iterator<RequestTrace> source, int batchSize, int prefillChunk, LongSupplier clockMs) {
        this(source, batchSize, prefillChunk, clockMs, Resume.NONE);
    }

    public BatchScheduler(Iterator<RequestTrace> source, int batchSize, int prefillChunk, LongSupplier clockMs,
                          Resume resume) {
        this(source, batchSize, prefillChunk, clockMs, resume, "");
    }

    /** As above, stamping {@code sourceId} (the engine instance or replay, SelectionEvent v2) on every record. */
    public BatchScheduler(Iterator<RequestTrace> source, int batchSize, int prefillChunk, LongSupplier clockMs,
                          Resume resume, String sourceId) {
        if (batchSize <= 0 || prefillChunk <= 0) {
            throw new IllegalArgumentException("batch size and prefill chunk must be positive");
        }
        this.source = source;
        this.prefillChunk = prefillChunk;
        this.clockMs = clockMs;
        this.slots = new RequestTrace[batchSize];
        this.nextStep = new int[batchSize];
        this.slotIndex = new long[batchSize];
        this.resume = resume;
        this.passId = resume.nextPassId();
        this.sourceId = sourceId;
    }

    /** Requests taken so far and those in the batch with their next step (call between passes). */
    public Position position() {
        Map<Long, Integer> inFlight = new TreeMap<>();
        for (int s = 0; s < slots.length; s++) {
            if (slots[s] != null) {
                inFlight.put(slotIndex[s], nextStep[s]);
            }
        }
        return new Position(waiting != null ? waitingIndex : taken, passId, inFlight);
    }

    @Override
    public boolean hasNext() {
        for (RequestTrace r : slots) {
            if (r != null) {
                return true;
            }
        }
        return waiting != null || pullWaiting();
    }

    /**
     * Takes the next request to run from the source into {@code waiting}; on a resume, requests sent
     * before are passed over and an in-flight one comes back at its next step.
     */
    private boolean pullWaiting() {
        while (waiting == null && source.hasNext()) {
            RequestTrace r = source.next();
            long index = taken++;
            if (index < resume.nextRequest() && !resume.inFlight().containsKey(index)) {
                continue;
            }
            waiting = r;
            waitingIndex = index;
        }
        return waiting != null;
    }

    @Override
    public ScheduledPass next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        admit();
        long now = clockMs.getAsLong();
        List<SelectionEvent> events = new ArrayList<>();
        List<PassEntry> entries = new ArrayList<>();
        int batchOffset = 0;
        int decodeTokens = 0;
        String model = null;
        for (int s = 0; s < slots.length; s++) {
            RequestTrace r = slots[s];
            if (r == null) {
                continue;
            }
            model = r.model().id();
            int step = nextStep[s];
            int tokens = r.tokens(step);
            boolean last = step == r.numSteps() - 1;
            int chunk = step == 0 ? prefillChunk : 1;
            for (int off = 0; off < tokens; off += chunk) {
                int n = Math.min(chunk, tokens - off);
                events.add(event(r, step, off, n, batchOffset + off, last && off + n == tokens, now));
            }
            entries.add(new PassEntry(r.requestId(), step, tokens));
            batchOffset += tokens;
            if (step > 0) {
                decodeTokens += tokens;
            }
            nextStep[s]++;
            if (last) {
                slots[s] = null;
            }
        }
        ForwardPass pass = new ForwardPass(model, passId, entries, batchOffset, decodeTokens, now, sourceId);
        passId++;
        return new ScheduledPass(pass, events);
    }

    /** Fills free slots in slot order; a request of another model waits for an empty batch. */
    private void admit() {
        String batchModel = null;
        for (RequestTrace r : slots) {
            if (r != null) {
                batchModel = r.model().id();
                break;
            }
        }
        for (int s = 0; s < slots.length; s++) {
            if (slots[s] != null) {
                continue;
            }
            pullWaiting();
            if (waiting == null || (batchModel != null && !batchModel.equals(waiting.model().id()))) {
                return;
            }
            slots[s] = waiting;
            slotIndex[s] = waitingIndex;
            nextStep[s] = waitingIndex < resume.nextRequest() ? resume.inFlight().get(waitingIndex) : 0;
            batchModel = waiting.model().id();
            waiting = null;
        }
    }

    private SelectionEvent event(RequestTrace r, int step, int tokenOffset, int tokens, int batchTokenOffset,
                                 boolean lastStep, long now) {
        ModelShape shape = r.model();
        int perToken = shape.numMoeLayers() * shape.topK();
        int[] ids = r.steps().get(step);
        ByteBuffer packed = ByteBuffer.allocate(tokens * perToken * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = tokenOffset * perToken, end = (tokenOffset + tokens) * perToken; i < end; i++) {
            packed.putShort((short) ids[i]);
        }
        packed.flip();
        return SelectionEvent.newBuilder()
                .setModel(shape.id()).setRequestId(r.requestId()).setStep(step)
                .setPhase(step == 0 ? Phase.PREFILL : Phase.DECODE)
                .setTokenOffset(tokenOffset).setTokenCount(tokens).setPassId(passId)
                .setBatchTokenOffset(batchTokenOffset).setNumMoeLayers(shape.numMoeLayers()).setTopK(shape.topK())
                .setExpertIds(packed).setLastStep(lastStep)
                .setBenchmark(r.benchmark()).setSubject(r.subject()).setLanguage(r.language())
                .setEventTimeMs(now).setSource(sourceId).build();
    }
}
