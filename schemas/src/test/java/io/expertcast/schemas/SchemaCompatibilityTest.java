package io.expertcast.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.junit.jupiter.api.Test;

/**
 * Every record schema in src/main/avro must be released (its current form kept as the newest
 * vN.avsc under resources/io/expertcast/schemas/released/) and must read, and be read by, every
 * earlier release. Run with {@code -Dschemas.release=true} to write the files for changed schemas.
 */
class SchemaCompatibilityTest {

    private static final Path AVRO_DIR = Path.of("src/main/avro");
    private static final Path RELEASED_DIR = Path.of("src/main/resources/io/expertcast/schemas/released");

    static List<Schema> currentSchemas() throws Exception {
        List<Schema> schemas = new ArrayList<>();
        try (Stream<Path> files = Files.list(AVRO_DIR)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".avsc")).sorted().toList()) {
                String name = file.getFileName().toString().replace(".avsc", "");
                Class<?> type = Class.forName("io.expertcast.schemas." + name);
                schemas.add((Schema) type.getField("SCHEMA$").get(null));
            }
        }
        return schemas;
    }

    @Test
    void everyCurrentSchemaIsReleased() throws Exception {
        boolean release = Boolean.getBoolean("schemas.release");
        List<String> unreleased = new ArrayList<>();
        for (Schema current : currentSchemas()) {
            List<Schema> versions = ReleasedSchemas.versionsOf(current.getFullName());
            Schema latest = versions.isEmpty() ? null : versions.get(versions.size() - 1);
            if (latest != null && SchemaNormalization.parsingFingerprint64(latest)
                    == SchemaNormalization.parsingFingerprint64(current)) {
                continue;
            }
            String file = current.getName() + "/v" + (versions.size() + 1) + ".avsc";
            if (release) {
                Path target = RELEASED_DIR.resolve(file);
                Files.createDirectories(target.getParent());
                Files.writeString(target, current.toString(true) + "\n", StandardCharsets.UTF_8);
                Files.writeString(RELEASED_DIR.resolve("index.txt"), file + "\n", StandardCharsets.UTF_8,
                        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            }
            unreleased.add(file);
        }
        if (!unreleased.isEmpty() && !release) {
            fail("schemas changed without a release: " + unreleased
                    + " (check compatibility, then run: mvn -pl schemas test -Dschemas.release=true)");
        }
    }

    @Test
    void everyReleaseIsMutuallyCompatibleWithTheCurrentSchema() throws Exception {
        List<String> problems = new ArrayList<>();
        for (Schema current : currentSchemas()) {
            for (Schema old : ReleasedSchemas.versionsOf(current.getFullName())) {
                var newReadsOld = SchemaCompatibility.checkReaderWriterCompatibility(current, old);
                var oldReadsNew = SchemaCompatibility.checkReaderWriterCompatibility(old, current);
                if (newReadsOld.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
                    problems.add(current.getName() + ": current cannot read a released version: "
                            + newReadsOld.getResult().getIncompatibilities());
                }
                if (oldReadsNew.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
                    problems.add(current.getName() + ": a released version cannot read the current one: "
                            + oldReadsNew.getResult().getIncompatibilities());
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void detectsAnIncompatibleChange() {
        // Guards the check itself: a new required field without a default cannot read old records.
        Schema old = new Schema.Parser().parse(
                "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}");
        Schema changed = new Schema.Parser().parse(
                "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
                        + "{\"name\":\"b\",\"type\":\"string\"}]}");
        assertEquals(SchemaCompatibility.SchemaCompatibilityType.INCOMPATIBLE,
                SchemaCompatibility.checkReaderWriterCompatibility(changed, old).getType());
    }

    @Test
    void releasedFilesAreListedInTheIndex() throws IOException {
        List<String> index = Files.readAllLines(RELEASED_DIR.resolve("index.txt")).stream()
                .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        try (Stream<Path> files = Files.walk(RELEASED_DIR)) {
            List<String> onDisk = files.filter(f -> f.toString().endsWith(".avsc"))
                    .map(f -> RELEASED_DIR.relativize(f).toString().replace('\\', '/')).sorted().toList();
            assertEquals(onDisk, index.stream().sorted().toList());
        }
        assertFalse(index.isEmpty());
    }
}
