package io.expertcast.predictor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Keys and plan encoding of {@link PredictorTopology#REQUEST_STEPS_STORE}: one small record per scored
 * decode step, keyed so that a prefix scan returns one request's steps in step order (the first, which
 * carries the decode-phase plans, first).
 */
public final class DecodeSteps {
    private DecodeSteps() {
    }

    /** {@code <id length>:<id>:} - no request id's prefix is another's (ids may hold any character). */
    public static String prefix(String requestId) {
        return requestId.length() + ":" + requestId + ":";
    }

    /** The prefix, then the step zero-padded to 10 digits, so keys sort in step order. */
    static String key(String requestId, int step) {
        String s = Integer.toString(step);
        return prefix(requestId) + "0".repeat(10 - s.length()) + s;
    }

    /** Per layer a little-endian uint16 count, then the ids (expert ids fit 16 bits, as in SelectionEvent). */
    static ByteBuffer encode(int[][] plan) {
        int size = 0;
        for (int[] layer : plan) {
            size += 2 + 2 * layer.length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        for (int[] layer : plan) {
            b.putShort((short) layer.length);
            for (int e : layer) {
                b.putShort((short) e);
            }
        }
        return b.flip();
    }

    /** {@link #encode}'s plan back, for {@code layers} MoE layers (also read by the interactive queries). */
    public static int[][] decode(ByteBuffer bytes, int layers) {
        ByteBuffer b = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int[][] plan = new int[layers][];
        for (int l = 0; l < layers; l++) {
            int[] ids = new int[Short.toUnsignedInt(b.getShort())];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = Short.toUnsignedInt(b.getShort());
            }
            plan[l] = ids;
        }
        return plan;
    }
}
