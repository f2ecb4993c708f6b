package io.expertcast.core.hardware;

import java.util.ArrayList;
import java.util.List;

/** The 2D mesh of dies: die id = row x cols + col; XY routing (first along the row, then the column). */
public final class Mesh {
    private final int rows;
    private final int cols;

    public Mesh(int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("mesh must be at least 1x1, got " + rows + "x" + cols);
        }
        this.rows = rows;
        this.cols = cols;
    }

    public static Mesh of(HardwareConfig config) {
        return new Mesh(config.rows(), config.cols());
    }

    public int rows() { return rows; }
    public int cols() { return cols; }
    public int dies() { return rows * cols; }
    public int row(int die) { return die / cols; }
    public int col(int die) { return die % cols; }

    public boolean contains(int die) {
        return die >= 0 && die < dies();
    }

    /** Manhattan distance: the hop count of an XY route. */
    public int hops(int from, int to) {
        return Math.abs(row(from) - row(to)) + Math.abs(col(from) - col(to));
    }

    /** Dies at distance exactly 1. */
    public List<Integer> neighbours(int die) {
        List<Integer> out = new ArrayList<>(4);
        int r = row(die);
        int c = col(die);
        if (r > 0) out.add(die - cols);
        if (r < rows - 1) out.add(die + cols);
        if (c > 0) out.add(die - 1);
        if (c < cols - 1) out.add(die + 1);
        return out;
    }

    /** Per die its {@link #neighbours}, as arrays: what the planners' per-block loops read (no boxing). */
    public int[][] neighbourTable() {
        int[][] table = new int[dies()][];
        for (int die = 0; die < table.length; die++) {
            table[die] = neighbours(die).stream().mapToInt(Integer::intValue).toArray();
        }
        return table;
    }

    /** The dies an XY route visits, source first, destination last. */
    public List<Integer> xyRoute(int from, int to) {
        List<Integer> path = new ArrayList<>();
        int r = row(from);
        int c = col(from);
        path.add(from);
        int targetCol = col(to);
        int targetRow = row(to);
        while (c != targetCol) {
            c += Integer.signum(targetCol - c);
            path.add(r * cols + c);
        }
        while (r != targetRow) {
            r += Integer.signum(targetRow - r);
            path.add(r * cols + c);
        }
        return path;
    }
}
