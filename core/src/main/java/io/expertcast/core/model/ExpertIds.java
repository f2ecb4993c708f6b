package io.expertcast.core.model;

/**
 * Packs expert ids as little-endian uint16, laid out [token][moe layer][k]: one decode token of
 * DeepSeek (58 layers x 8) is 928 bytes, one record.
 */
public final class ExpertIds {
    private ExpertIds() {
    }

    public static byte[] pack(int[] ids) {
        byte[] out = new byte[ids.length * 2];
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0 || id > 0xFFFF) {
                throw new IllegalArgumentException("expert id " + id + " does not fit uint16");
            }
            out[2 * i] = (byte) id;
            out[2 * i + 1] = (byte) (id >>> 8);
        }
        return out;
    }

    public static int[] unpack(byte[] bytes) {
        if (bytes.length % 2 != 0) {
            throw new IllegalArgumentException("packed expert ids have an odd length " + bytes.length);
        }
        int[] ids = new int[bytes.length / 2];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (bytes[2 * i] & 0xFF) | ((bytes[2 * i + 1] & 0xFF) << 8);
        }
        return ids;
    }

    /** Index of (token, moeLayer, slot) in the packed layout. */
    public static int index(int token, int moeLayer, int slot, int numMoeLayers, int topK) {
        return (token * numMoeLayers + moeLayer) * topK + slot;
    }
}
