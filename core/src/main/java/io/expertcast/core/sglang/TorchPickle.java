package io.expertcast.core.sglang;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.PickleException;
import net.razorvine.pickle.Unpickler;

/**
 * Reads a file written by {@code torch.save} (zip format, torch >= 1.6): {@code <archive>/data.pkl}
 * is a pickle whose tensors are {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
 * ...)} calls and whose storages are persistent ids {@code ('storage', torch.IntStorage, key, device,
 * numel)} naming the raw little-endian entry {@code <archive>/data/<key>}. Dicts come back as
 * {@link Map}, lists as {@link java.util.List}, tuples as {@code Object[]}, tensors as {@link Tensor};
 * no Python code runs: only the torch names below are recognised.
 */
public final class TorchPickle {
    /** A torch storage class: its dtype name and bytes per element. */
    private record StorageType(String dtype, int bytes) implements IObjectConstructor {
        @Override
        public Object construct(Object[] args) {
            throw new PickleException("torch." + dtype + " storage is not constructed directly in a tensor pickle");
        }
    }

    /** A storage resolved from the zip, before a tensor views it. */
    private record Storage(StorageType type, byte[] bytes, ByteOrder order) {
    }

    static {
        Map<String, StorageType> types = Map.of("IntStorage", new StorageType("int32", 4),
                "LongStorage", new StorageType("int64", 8), "ShortStorage", new StorageType("int16", 2),
                "ByteStorage", new StorageType("uint8", 1), "CharStorage", new StorageType("int8", 1),
                "BoolStorage", new StorageType("bool", 1), "FloatStorage", new StorageType("float32", 4),
                "DoubleStorage", new StorageType("float64", 8));
        types.forEach((name, type) -> Unpickler.registerConstructor("torch", name, type));
        Unpickler.registerConstructor("torch._utils", "_rebuild_tensor_v2", TorchPickle::rebuildTensor);
        Unpickler.registerConstructor("collections", "OrderedDict", args -> new HashMap<>());
    }

    private TorchPickle() {
    }

    /** The unpickled object of a torch.save file; IOException names the file and what was wrong. */
    public static Object read(Path file) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry pickle = zip.stream().filter(e -> e.getName().endsWith("/data.pkl") || e.getName().equals("data.pkl"))
                    .findFirst().orElseThrow(() -> new IOException(file + ": not a torch.save file (a zip without data.pkl)"));
            String prefix = pickle.getName().substring(0, pickle.getName().length() - "data.pkl".length());
            ZipEntry orderEntry = zip.getEntry(prefix + "byteorder");
            ByteOrder order = ByteOrder.LITTLE_ENDIAN;
            if (orderEntry != null) {
                try (InputStream in = zip.getInputStream(orderEntry)) {
                    order = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).strip().equals("big")
                            ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
                }
            }
            ByteOrder byteOrder = order;
            Unpickler unpickler = new Unpickler() {
                @Override
                protected Object persistentLoad(Object pid) {
                    if (!(pid instanceof Object[] t) || t.length < 5 || !"storage".equals(t[0])
                            || !(t[1] instanceof StorageType type)) {
                        throw new PickleException("unsupported persistent id " + describe(pid)
                                + " (expected ('storage', torch.<Type>Storage, key, device, numel))");
                    }
                    ZipEntry data = zip.getEntry(prefix + "data/" + t[2]);
                    if (data == null) {
                        throw new PickleException("storage " + t[2] + " is missing from the archive");
                    }
                    try (InputStream in = zip.getInputStream(data)) {
                        return new Storage(type, in.readAllBytes(), byteOrder);
                    } catch (IOException e) {
                        throw new PickleException("cannot read storage " + t[2] + ": " + e.getMessage());
                    }
                }
            };
            try (InputStream in = zip.getInputStream(pickle)) {
                return unpickler.load(in);
            } catch (PickleException | IllegalArgumentException | ClassCastException | IndexOutOfBoundsException e) {
                throw new IOException(file + ": not a readable torch pickle: " + e.getMessage(), e);
            }
        } catch (ZipException e) {
            throw new IOException(file + ": not a torch.save file (corrupt or truncated zip: " + e.getMessage() + ")", e);
        }
    }

    /** {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])}. */
    private static Object rebuildTensor(Object[] args) {
        if (args.length < 4 || !(args[0] instanceof Storage storage)) {
            throw new PickleException("_rebuild_tensor_v2 without a storage");
        }
        long offset = ((Number) args[1]).longValue();
        Object[] size = (Object[]) args[2];
        Object[] stride = (Object[]) args[3];
        int[] shape = new int[size.length];
        long count = 1;
        for (int i = 0; i < size.length; i++) {
            shape[i] = ((Number) size[i]).intValue();
            count *= shape[i];
        }
        int bytes = storage.type().bytes();
        long elements = storage.bytes().length / bytes;
        ByteBuffer buf = ByteBuffer.wrap(storage.bytes()).order(storage.order());
        if (count > Integer.MAX_VALUE - 8) {
            throw new PickleException("a tensor of " + count + " elements is too large");
        }
        String dtype = storage.type().dtype();
        boolean floating = dtype.startsWith("float");
        int[] ints = !floating && !dtype.equals("int64") ? new int[(int) count] : null;
        long[] longs = dtype.equals("int64") ? new long[(int) count] : null;
        double[] doubles = floating ? new double[(int) count] : null;
        int[] index = new int[shape.length];
        for (long flat = 0; flat < count; flat++) {
            long at = offset;
            for (int d = 0; d < shape.length; d++) {
                at += (long) index[d] * ((Number) stride[d]).longValue();
            }
            if (at < 0 || at >= elements) {
                throw new PickleException("tensor view reaches element " + at + " of a storage of " + elements);
            }
            int pos = (int) (at * bytes);
            switch (dtype) {
                case "int32" -> ints[(int) flat] = buf.getInt(pos);
                case "int64" -> longs[(int) flat] = buf.getLong(pos);
                case "int16" -> ints[(int) flat] = buf.getShort(pos);
                case "uint8", "bool" -> ints[(int) flat] = buf.get(pos) & 0xFF;
                case "int8" -> ints[(int) flat] = buf.get(pos);
                case "float32" -> doubles[(int) flat] = buf.getFloat(pos);
                default -> doubles[(int) flat] = buf.getDouble(pos);
            }
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++index[d] < shape[d]) {
                    break;
                }
                index[d] = 0;
            }
        }
        return new Tensor(dtype, shape, ints, longs, doubles);
    }

    static String describe(Object o) {
        return o instanceof Object[] a ? java.util.Arrays.deepToString(a) : String.valueOf(o);
    }
}
