package io.expertcast.attach.proxy;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the routed-experts fields of an engine's JSON reply ({@code routed_experts} and
 * {@code prompt_routed_experts}, wherever they are) and cuts them out of the bytes, so everything
 * else reaches the client byte for byte as the engine wrote it (no re-serialisation: number
 * formats, key order and spacing stay the engine's).
 */
public final class RoutedFields {
    private static final JsonFactory JSON = new JsonFactory();

    /**
     * One field: where it is, its dotted path ({@code meta_info.routed_experts},
     * {@code choices.0.routed_experts}) and its string value (null for JSON null).
     */
    public record Field(int start, int end, String path, String value) {
    }

    private RoutedFields() {
    }

    public static boolean isRoutedName(String name) {
        return name.equals("routed_experts") || name.equals("prompt_routed_experts");
    }

    /** The routed-experts fields of a JSON document; IOException when it is not JSON. */
    public static List<Field> find(byte[] json, int offset, int length) throws IOException {
        List<Field> out = new ArrayList<>();
        try (JsonParser p = JSON.createParser(json, offset, length)) {
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                if (t != JsonToken.FIELD_NAME || !isRoutedName(p.currentName())) {
                    continue;
                }
                String name = p.currentName();
                int start = (int) p.currentTokenLocation().getByteOffset();
                List<String> path = new ArrayList<>();
                for (JsonStreamContext c = p.getParsingContext().getParent(); c != null && !c.inRoot(); c = c.getParent()) {
                    path.add(0, c.inArray() ? String.valueOf(c.getCurrentIndex()) : c.getCurrentName());
                }
                path.add(name);
                JsonToken v = p.nextToken();
                String value = v == JsonToken.VALUE_STRING ? p.getText() : null;
                if (v == JsonToken.START_OBJECT || v == JsonToken.START_ARRAY) {
                    p.skipChildren();
                }
                int end = (int) p.currentLocation().getByteOffset();
                out.add(new Field(start - offset + offset, end, String.join(".", path), value));
            }
        }
        return out;
    }

    /** The document without the given fields (each with the comma that joined it to a neighbour). */
    public static byte[] remove(byte[] json, int offset, int length, List<Field> fields) {
        byte[] out = new byte[length];
        int n = 0;
        int at = offset;
        for (Field f : fields) {
            int cutStart = f.start();
            int cutEnd = f.end();
            int before = cutStart - 1;
            while (before >= offset && isSpace(json[before])) {
                before--;
            }
            if (before >= offset && json[before] == ',') {
                cutStart = before; // "..., "routed_experts": ..." : cut from the comma before
            } else {
                int after = cutEnd;
                while (after < offset + length && isSpace(json[after])) {
                    after++;
                }
                if (after < offset + length && json[after] == ',') {
                    after++;
                    while (after < offset + length && isSpace(json[after])) {
                        after++;
                    }
                    cutEnd = after; // the first field: cut it and the comma after
                }
            }
            System.arraycopy(json, at, out, n, cutStart - at);
            n += cutStart - at;
            at = cutEnd;
        }
        System.arraycopy(json, at, out, n, offset + length - at);
        n += offset + length - at;
        return java.util.Arrays.copyOf(out, n);
    }

    private static boolean isSpace(byte b) {
        return b == ' ' || b == '\n' || b == '\r' || b == '\t';
    }
}
