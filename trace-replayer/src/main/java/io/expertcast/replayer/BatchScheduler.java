package io.expertcast.replayer;

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
import java.util.NoSuchElementException;
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
    private RequestTrace waiting;
    private long passId;

    public BatchScheduler(Iterator<RequestTrace> source, int batchSize, int prefillChunk, LongSupplier clockMs) {
        if (batchSize <= 0 || prefillChunk <= 0) {
            throw new IllegalArgumentException("batch size and prefill chunk must be positive");
        }
        this.source = source;
        this.prefillChunk = prefillChunk;
        this.clockMs = clockMs;
        this.slots = new RequestTrace[batchSize];
        this.nextStep = new int[batchSize];
    }

    @Override
    public boolean hasNext() {
        for (RequestTrace r : slots) {
            if (r != null) {
                return true;
            }
        }
        return waiting != null || source.hasNext();
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
        ForwardPass pass = new ForwardPass(model, passId, entries, batchOffset, decodeTokens, now);
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
            if (waiting == null && source.hasNext()) {
                waiting = source.next();
            }
            if (waiting == null || (batchModel != null && !batchModel.equals(waiting.model().id()))) {
                return;
            }
            slots[s] = waiting;
            nextStep[s] = 0;
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
                .setEventTimeMs(now).build();
    }
}
