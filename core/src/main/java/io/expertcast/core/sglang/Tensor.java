package io.expertcast.core.sglang;

import java.util.Arrays;

/**
 * A dense tensor read from a torch.save file: its shape and its values in row-major order, as ints
 * (integer dtypes of up to 32 bits: SGLang's expert ids and counts, half the memory of longs), longs
 * (int64) or doubles (floating dtypes); exactly one of the three arrays is set.
 */
public record Tensor(String dtype, int[] shape, int[] ints, long[] longs, double[] doubles) {

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i];
    }

    public long size() {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** The integer at a row-major flat index. */
    public long longAt(long flat) {
        if (ints != null) {
            return ints[(int) flat];
        }
        if (longs == null) {
            throw new IllegalStateException("a " + dtype + " tensor holds no integers");
        }
        return longs[(int) flat];
    }

    public boolean isInteger() {
        return ints != null || longs != null;
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape);
    }
}
