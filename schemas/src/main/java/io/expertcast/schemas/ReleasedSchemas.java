package io.expertcast.schemas;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;

/**
 * Every released version of every record schema, kept under
 * {@code schemas/src/main/resources/io/expertcast/schemas/released/<Record>/v<N>.avsc} and listed in
 * {@code released/index.txt}. Released files are never edited: a changed schema is a new version.
 */
public final class ReleasedSchemas {

    static final String ROOT = "/io/expertcast/schemas/released/";
    private static final Map<String, List<Schema>> BY_NAME = load();

    private ReleasedSchemas() {
    }

    /** Released versions of the record with this full name, oldest first (empty if never released). */
    public static List<Schema> versionsOf(String fullName) {
        return BY_NAME.getOrDefault(fullName, List.of());
    }

    /** Full names of all released records. */
    public static List<String> recordNames() {
        return List.copyOf(BY_NAME.keySet());
    }

    private static Map<String, List<Schema>> load() {
        Map<String, List<Schema>> byName = new LinkedHashMap<>();
        try (InputStream index = ReleasedSchemas.class.getResourceAsStream(ROOT + "index.txt")) {
            if (index == null) {
                return byName;
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(index, StandardCharsets.UTF_8));
            String line;
            while ((line = reader.readLine()) != null) {
                line = line.strip();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                try (InputStream in = ReleasedSchemas.class.getResourceAsStream(ROOT + line)) {
                    if (in == null) {
                        throw new IllegalStateException("released schema listed but missing: " + line);
                    }
                    Schema schema = new Schema.Parser().parse(in);
                    byName.computeIfAbsent(schema.getFullName(), k -> new ArrayList<>()).add(schema);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return byName;
    }
}
