package io.expertcast.streams;

import io.expertcast.core.model.ExpertIds;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.SelectionEvent;
import java.nio.ByteBuffer;
import java.util.List;

/** Small hand-made llama4-maverick records (24 MoE layers, k = 1, 128 experts). */
public final class StreamsTestData {
    public static final String MODEL = "llama4-maverick";

    private StreamsTestData() {
    }

    public static SelectionEvent selection(String request, int step, int tokenOffset, int tokens, long pass,
                                    int batchTokenOffset, int expert) {
        int[] ids = new int[tokens * 24];
        java.util.Arrays.fill(ids, expert);
        return SelectionEvent.newBuilder().setModel(MODEL).setRequestId(request).setStep(step)
                .setPhase(step == 0 ? Phase.PREFILL : Phase.DECODE).setTokenOffset(tokenOffset)
                .setTokenCount(tokens).setPassId(pass).setBatchTokenOffset(batchTokenOffset).setNumMoeLayers(24)
                .setTopK(1).setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids))).setEventTimeMs(0L).build();
    }

    public static ForwardPass pass(long pass, List<PassEntry> entries) {
        int total = entries.stream().mapToInt(PassEntry::getTokenCount).sum();
        int decode = entries.stream().filter(e -> e.getStep() > 0).mapToInt(PassEntry::getTokenCount).sum();
        return new ForwardPass(MODEL, pass, entries, total, decode, 0L, "");
    }
}
