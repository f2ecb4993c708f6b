package io.expertcast.attach.standin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes the subset of {@code torch.save}'s zip format that SGLang's recorder dumps use, without
 * torch: {@code archive/data.pkl} is a protocol-2 pickle of dicts, lists, ints, strings, None and
 * integer tensors, each tensor a {@code torch._utils._rebuild_tensor_v2} call on a persistent
 * storage id whose raw little-endian bytes are {@code archive/data/<key>}; entries are stored
 * uncompressed, as torch stores them. Read back by the project's TorchPickle, as a real torch file is.
 */
public final class TorchSave {

    /** An integer tensor: dtype int32 or int64, shape, values in row-major order. */
    public record IntTensor(String dtype, int[] shape, long[] values) {
        public IntTensor {
            if (!dtype.equals("int32") && !dtype.equals("int64")) {
                throw new IllegalArgumentException("dtype " + dtype);
            }
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            if (n != values.length) {
                throw new IllegalArgumentException(values.length + " values for shape " + java.util.Arrays.toString(shape));
            }
        }
    }

    private final ByteArrayOutputStream pickle = new ByteArrayOutputStream();
    private final List<byte[]> storages = new ArrayList<>();

    private TorchSave() {
    }

    /** The bytes of a torch.save file holding {@code root}. */
    public static byte[] toBytes(Object root) {
        TorchSave w = new TorchSave();
        w.pickle.write(0x80);
        w.pickle.write(2);
        w.value(root);
        w.pickle.write('.');
        ByteArrayOutputStream zipBytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(zipBytes)) {
            stored(zip, "archive/data.pkl", w.pickle.toByteArray());
            stored(zip, "archive/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < w.storages.size(); i++) {
                stored(zip, "archive/data/" + i, w.storages.get(i));
            }
            stored(zip, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new IllegalStateException(e); // in memory: cannot happen
        }
        return zipBytes.toByteArray();
    }

    public static void write(Object root, OutputStream out) throws IOException {
        out.write(toBytes(root));
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        e.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    private void value(Object o) {
        if (o == null) {
            pickle.write('N');
        } else if (o instanceof Boolean b) {
            pickle.write(b ? 0x88 : 0x89);
        } else if (o instanceof Integer || o instanceof Long) {
            integer(((Number) o).longValue());
        } else if (o instanceof Double d) {
            pickle.write('G');
            writeBytes(ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putDouble(d).array());
        } else if (o instanceof String s) {
            string(s);
        } else if (o instanceof Map<?, ?> m) {
            pickle.write('}');
            if (!m.isEmpty()) {
                pickle.write('(');
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    value(e.getKey());
                    value(e.getValue());
                }
                pickle.write('u');
            }
        } else if (o instanceof List<?> l) {
            pickle.write(']');
            if (!l.isEmpty()) {
                pickle.write('(');
                for (Object x : l) {
                    value(x);
                }
                pickle.write('e');
            }
        } else if (o instanceof IntTensor t) {
            tensor(t);
        } else {
            throw new IllegalArgumentException("cannot pickle a " + o.getClass().getSimpleName());
        }
    }

    private void tensor(IntTensor t) {
        int bytes = t.dtype().equals("int64") ? 8 : 4;
        ByteBuffer raw = ByteBuffer.allocate(t.values().length * bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : t.values()) {
            if (bytes == 8) {
                raw.putLong(v);
            } else {
                raw.putInt((int) v);
            }
        }
        String key = String.valueOf(storages.size());
        storages.add(raw.array());
        global("torch._utils", "_rebuild_tensor_v2");
        pickle.write('(');
        // persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel)
        pickle.write('(');
        string("storage");
        global("torch", bytes == 8 ? "LongStorage" : "IntStorage");
        string(key);
        string("cpu");
        integer(t.values().length);
        pickle.write('t');
        pickle.write('Q');
        integer(0);
        tuple(t.shape());
        int[] stride = new int[t.shape().length];
        int s = 1;
        for (int d = stride.length - 1; d >= 0; d--) {
            stride[d] = s;
            s *= t.shape()[d];
        }
        tuple(stride);
        pickle.write(0x89); // requires_grad False
        global("collections", "OrderedDict");
        pickle.write(')');
        pickle.write('R');
        pickle.write('t');
        pickle.write('R');
    }

    private void tuple(int[] values) {
        pickle.write('(');
        for (int v : values) {
            integer(v);
        }
        pickle.write('t');
    }

    private void global(String module, String name) {
        pickle.write('c');
        writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private void integer(long v) {
        if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            pickle.write('J');
            writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
        } else {
            pickle.write(0x8a); // LONG1: 8 little-endian two's-complement bytes
            pickle.write(8);
            writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        }
    }

    private void string(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        pickle.write('X');
        writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(utf8.length).array());
        writeBytes(utf8);
    }

    private void writeBytes(byte[] b) {
        pickle.write(b, 0, b.length);
    }
}
