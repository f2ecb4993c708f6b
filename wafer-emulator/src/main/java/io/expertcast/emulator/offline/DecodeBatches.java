package io.expertcast.emulator.offline;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import java.util.Iterator;

/**
 * The paper's workload for the case study: decode only, a batch of B requests filled in dataset
 * order, one decode token per request per forward pass, a finished request's slot refilled with the
 * next request. Only full batches are emulated: the run stops at the first pass the requests left
 * cannot fill, so every figure is at batch B exactly.
 */
final class DecodeBatches {
    /** One pass: its tokens' ids [token][moe layer][k] and each token's previous token's ids (same layout). */
    record Pass(long id, int tokens, int[] ids, int[] previousIds) {
    }

    private final ModelShape model;
    private final Iterator<RequestTrace> source;
    private final RequestTrace[] slots;
    private final int[] nextStep;
    private long passId;

    DecodeBatches(ModelShape model, Iterator<RequestTrace> source, int batch) {
        this.model = model;
        this.source = source;
        this.slots = new RequestTrace[batch];
        this.nextStep = new int[batch];
    }

    /** The next full pass, or null when the batch can no longer be filled. */
    Pass next() {
        for (int s = 0; s < slots.length; s++) {
            while (slots[s] == null || nextStep[s] >= slots[s].numSteps()) {
                if (!source.hasNext()) {
                    return null;
                }
                RequestTrace r = source.next();
                if (!r.model().id().equals(model.id())) {
                    throw new IllegalArgumentException("request " + r.requestId() + " is of " + r.model().id()
                            + ", the simulation of " + model.id());
                }
                if (r.numDecodeSteps() > 0) {
                    slots[s] = r;
                    nextStep[s] = 1;
                }
            }
        }
        int perToken = model.numMoeLayers() * model.topK();
        int[] ids = new int[slots.length * perToken];
        int[] previous = new int[slots.length * perToken];
        for (int s = 0; s < slots.length; s++) {
            RequestTrace r = slots[s];
            int step = nextStep[s];
            System.arraycopy(r.steps().get(step), 0, ids, s * perToken, perToken);
            int[] before = r.steps().get(step - 1);
            System.arraycopy(before, before.length - perToken, previous, s * perToken, perToken); // last token of the step before
            nextStep[s]++;
        }
        return new Pass(passId++, slots.length, ids, previous);
    }
}
