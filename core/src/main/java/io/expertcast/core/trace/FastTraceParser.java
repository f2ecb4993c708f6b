package io.expertcast.core.trace;

import io.expertcast.core.model.ModelShape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A byte-level reader for well-formed request files of the dataset: arrays of small non-negative
 * ints, which a general JSON parser spends most of its time on (replay profiles show two thirds of
 * the CPU in Jackson's tokenizer). It accepts exactly the files that {@link TraceDataset}'s Jackson
 * reader accepts with the same result, and gives up (returns null) on anything else, so the Jackson
 * reader runs and reports the error with its line and column. Nothing here decides what is valid.
 */
final class FastTraceParser {
    /** Thrown internally to give up; never leaves this class. */
    private static final class GiveUp extends RuntimeException {
        GiveUp() {
            super(null, null, false, false);
        }
    }

    private static final GiveUp GIVE_UP = new GiveUp();

    private final byte[] b;
    private int i;

    private FastTraceParser(byte[] data) {
        this.b = data;
    }

    /** The steps packed [token][moe layer][k], or null when the file is not plainly well formed. */
    static List<int[]> parse(byte[] data, ModelShape shape) {
        try {
            return new FastTraceParser(data).steps(shape);
        } catch (GiveUp | ArrayIndexOutOfBoundsException e) {
            return null;
        }
    }

    private List<int[]> steps(ModelShape shape) {
        int layers = shape.numLayers();
        int moeLayers = shape.numMoeLayers();
        int k = shape.topK();
        int experts = shape.numExperts();
        List<int[]> steps = new ArrayList<>();
        int[][] rowsOfLayer = new int[moeLayers][];
        int[] rowCount = new int[moeLayers];
        boolean[] seen = new boolean[layers];
        ws();
        expect('[');
        ws();
        if (b[i] == ']') {
            throw GIVE_UP; // empty step list: Jackson's reader reports it
        }
        while (true) {
            ws();
            expect('{');
            Arrays.fill(seen, false);
            Arrays.fill(rowCount, 0);
            ws();
            while (true) {
                expect('"');
                int layer = 0;
                int digits = 0;
                while (b[i] >= '0' && b[i] <= '9') {
                    layer = layer * 10 + (b[i++] - '0');
                    if (++digits > 6) {
                        throw GIVE_UP;
                    }
                }
                expect('"');
                if (digits == 0 || layer >= layers || seen[layer]) {
                    throw GIVE_UP;
                }
                seen[layer] = true;
                ws();
                expect(':');
                ws();
                int m = shape.moeIndexOf(layer);
                if (b[i] == 'n') {
                    if (m >= 0 || b[i + 1] != 'u' || b[i + 2] != 'l' || b[i + 3] != 'l') {
                        throw GIVE_UP;
                    }
                    i += 4;
                } else {
                    if (m < 0) {
                        throw GIVE_UP;
                    }
                    expect('[');
                    int[] buf = rowsOfLayer[m] == null ? new int[64 * k] : rowsOfLayer[m];
                    int rows = 0;
                    ws();
                    if (b[i] == ']') {
                        i++;
                    } else {
                        while (true) {
                            ws();
                            expect('[');
                            if ((rows + 1) * k > buf.length) {
                                buf = Arrays.copyOf(buf, buf.length * 2);
                            }
                            for (int a = 0; a < k; a++) {
                                ws();
                                int e = 0;
                                int n = 0;
                                while (b[i] >= '0' && b[i] <= '9') {
                                    e = e * 10 + (b[i++] - '0');
                                    if (++n > 6) {
                                        throw GIVE_UP;
                                    }
                                }
                                if (n == 0 || e >= experts || (n > 1 && b[i - n] == '0')) { // JSON has no leading zeros
                                    throw GIVE_UP;
                                }
                                buf[rows * k + a] = e;
                                ws();
                                if (a < k - 1) {
                                    expect(',');
                                }
                            }
                            expect(']');
                            rows++;
                            ws();
                            if (b[i] == ',') {
                                i++;
                                continue;
                            }
                            expect(']');
                            break;
                        }
                    }
                    rowsOfLayer[m] = buf;
                    rowCount[m] = rows;
                }
                ws();
                if (b[i] == ',') {
                    i++;
                    ws();
                    continue;
                }
                expect('}');
                break;
            }
            for (boolean s : seen) {
                if (!s) {
                    throw GIVE_UP;
                }
            }
            int tokens = rowCount[0];
            for (int m = 0; m < moeLayers; m++) {
                if (rowCount[m] != tokens) {
                    throw GIVE_UP;
                }
            }
            if (tokens == 0 || (!steps.isEmpty() && tokens != 1)) {
                throw GIVE_UP;
            }
            int[] ids = new int[tokens * moeLayers * k];
            for (int m = 0; m < moeLayers; m++) {
                int[] rows = rowsOfLayer[m];
                for (int t = 0; t < tokens; t++) {
                    System.arraycopy(rows, t * k, ids, (t * moeLayers + m) * k, k);
                }
            }
            steps.add(ids);
            ws();
            if (b[i] == ',') {
                i++;
                continue;
            }
            expect(']');
            break;
        }
        while (i < b.length) {
            if (!isSpace(b[i++])) {
                throw GIVE_UP;
            }
        }
        return steps;
    }

    private void expect(char c) {
        if (b[i] != c) {
            throw GIVE_UP;
        }
        i++;
    }

    private void ws() {
        while (i < b.length && isSpace(b[i])) {
            i++;
        }
    }

    private static boolean isSpace(byte c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t';
    }
}
