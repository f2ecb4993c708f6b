package io.expertcast.attach.proxy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Decodes the routed experts an engine returns with a finished request into ids [token][layer][k].
 * <ul>
 *   <li>SGLang ({@code meta_info.routed_experts} of /generate; python/sglang/srt/managers/
 *       tokenizer_manager.py encodes {@code tensor.numpy().tobytes()} with pybase64): base64 of raw
 *       little-endian int32, C order, shape (prompt + completion - 1, num_hidden_layers, top-k), the
 *       shape not sent: the model gives it. Physical slot ids under EPLB.</li>
 *   <li>vLLM ({@code choices[i].routed_experts}, and {@code prompt_routed_experts} where the prompt's
 *       part is split off; vllm/entrypoints/openai/completion/protocol.py): base64 of an {@code .npy}
 *       file (np.save), shape (tokens, num_layers, top-k), dtype uint8, uint16 or int32.</li>
 * </ul>
 */
public final class RoutedExperts {
    private static final Pattern NPY_DESCR = Pattern.compile("'descr':\\s*'([<>|=])([uif])(\\d)'");
    private static final Pattern NPY_SHAPE = Pattern.compile("'shape':\\s*\\(([0-9,\\s]*)\\)");
    private static final Pattern NPY_FORTRAN = Pattern.compile("'fortran_order':\\s*(True|False)");

    /** Ids [token][layer][k] and the shape they came with. */
    public record Rows(int tokens, int layers, int k, int[] ids) {
        public int at(int token, int layer, int slot) {
            return ids[(token * layers + layer) * k + slot];
        }
    }

    private RoutedExperts() {
    }

    /** SGLang's raw int32: the length must be tokens x layers x k x 4 bytes. */
    public static Rows sglang(String base64, int tokens, int layers, int k) throws BadRoutedExperts {
        byte[] raw = decode(base64);
        long want = (long) tokens * layers * k * Integer.BYTES;
        if (raw.length != want) {
            throw new BadRoutedExperts("routed_experts holds " + raw.length + " bytes; " + tokens + " tokens x "
                    + layers + " layers x top-" + k + " int32 are " + want);
        }
        int[] ids = new int[tokens * layers * k];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(ids);
        return new Rows(tokens, layers, k, ids);
    }

    /** vLLM's .npy: the header gives dtype and shape. */
    public static Rows npy(String base64) throws BadRoutedExperts {
        byte[] raw = decode(base64);
        if (raw.length < 10 || (raw[0] & 0xFF) != 0x93 || !new String(raw, 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
            throw new BadRoutedExperts("routed_experts is not an .npy array (no \\x93NUMPY magic)");
        }
        int major = raw[6];
        int headerLen;
        int at;
        if (major == 1) {
            headerLen = (raw[8] & 0xFF) | (raw[9] & 0xFF) << 8;
            at = 10;
        } else {
            if (raw.length < 12) {
                throw new BadRoutedExperts("routed_experts: truncated .npy header");
            }
            headerLen = ByteBuffer.wrap(raw, 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
            at = 12;
        }
        if (headerLen < 0 || at + headerLen > raw.length) {
            throw new BadRoutedExperts("routed_experts: truncated .npy header");
        }
        String header = new String(raw, at, headerLen, StandardCharsets.ISO_8859_1);
        Matcher descr = NPY_DESCR.matcher(header);
        Matcher shape = NPY_SHAPE.matcher(header);
        Matcher fortran = NPY_FORTRAN.matcher(header);
        if (!descr.find() || !shape.find()) {
            throw new BadRoutedExperts("routed_experts: .npy header without descr or shape: " + header.strip());
        }
        if (fortran.find() && fortran.group(1).equals("True")) {
            throw new BadRoutedExperts("routed_experts: a Fortran-order .npy array");
        }
        char kind = descr.group(2).charAt(0);
        int width = Integer.parseInt(descr.group(3));
        boolean big = descr.group(1).equals(">");
        if (kind == 'f' || !(width == 1 || width == 2 || width == 4) || (kind == 'i' && width != 4 && width != 2)) {
            throw new BadRoutedExperts("routed_experts has dtype " + descr.group(1) + kind + width
                    + " (expected uint8, uint16 or int32)");
        }
        String[] dims = shape.group(1).split(",");
        int[] d = new int[3];
        int n = 0;
        for (String s : dims) {
            if (s.isBlank()) {
                continue;
            }
            if (n == 3) {
                n++;
                break;
            }
            d[n++] = Integer.parseInt(s.strip());
        }
        if (n != 3) {
            throw new BadRoutedExperts("routed_experts has shape (" + shape.group(1) + "), expected (tokens, layers, k)");
        }
        int data = at + headerLen;
        long count = (long) d[0] * d[1] * d[2];
        if (raw.length - data != count * width) {
            throw new BadRoutedExperts("routed_experts: " + (raw.length - data) + " data bytes for shape (" + d[0] + ", "
                    + d[1] + ", " + d[2] + ") of " + width + "-byte ids");
        }
        ByteBuffer b = ByteBuffer.wrap(raw, data, raw.length - data).order(big ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        int[] ids = new int[(int) count];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = switch (width) {
                case 1 -> kind == 'i' ? b.get() : b.get() & 0xFF;
                case 2 -> kind == 'i' ? b.getShort() : b.getShort() & 0xFFFF;
                default -> b.getInt();
            };
        }
        return new Rows(d[0], d[1], d[2], ids);
    }

    private static byte[] decode(String base64) throws BadRoutedExperts {
        try {
            return Base64.getDecoder().decode(base64.strip());
        } catch (IllegalArgumentException e) {
            throw new BadRoutedExperts("routed_experts is not base64: " + e.getMessage());
        }
    }

    /** Routed experts that do not decode to what the request and the model say. */
    public static final class BadRoutedExperts extends Exception {
        public BadRoutedExperts(String message) {
            super(message);
        }
    }
}
