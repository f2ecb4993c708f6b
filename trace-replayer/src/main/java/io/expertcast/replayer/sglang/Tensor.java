package io.expertcast.replayer.sglang;

import java.util.Arrays;

/** A dense tensor read from a torch.save file: its shape and its values, as longs (integer dtypes) or doubles. */
public record Tensor(String dtype, int[] shape, long[] longs, double[] doubles) {

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
        if (longs == null) {
            throw new IllegalStateException("a " + dtype + " tensor holds no integers");
        }
        return longs[(int) flat];
    }

    public boolean isInteger() {
        return longs != null;
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape);
    }
}
