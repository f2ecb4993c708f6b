package io.expertcast.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The module rules of docs/modules.md, read from the reactor's pom files and the sources' imports:
 * data flows one way (sources -> topics -> stages), so no stage module depends on another stage or on
 * a source, no source on another source or a stage; core stays Kafka- and Avro-free; the services'
 * jars carry neither benchmarks nor offline tools (nor JMH).
 */
class ModuleLayoutTest {
    private static final Set<String> STAGES = Set.of("stream-predictor", "stream-allocator", "wafer-emulator");
    private static final Set<String> SOURCES = Set.of("trace-replayer", "engine-attach");
    /** The root package of each module that owns one (split packages would hide a dependency). */
    private static final Map<String, String> PACKAGES = Map.of(
            "stream-predictor", "io.expertcast.predictor", "stream-allocator", "io.expertcast.allocator",
            "wafer-emulator", "io.expertcast.emulator", "trace-replayer", "io.expertcast.replayer",
            "engine-attach", "io.expertcast.attach", "benchmarks", "io.expertcast.bench",
            "offline-tools", "io.expertcast.offline", "launcher", "io.expertcast.launcher");
    private static final Pattern IMPORT = Pattern.compile("^import\\s+(?:static\\s+)?([\\w.]+)", Pattern.MULTILINE);

    private static Path root() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.exists(dir.resolve("launcher").resolve("pom.xml"))) {
            dir = dir.getParent();
        }
        assertTrue(dir != null, "the reactor root (a folder holding launcher/pom.xml) above " + Path.of("").toAbsolutePath());
        return dir;
    }

    /** Module -> the artifactIds of its dependencies (every scope). */
    private static Map<String, List<String>> dependencies(Path root) throws Exception {
        Map<String, List<String>> out = new TreeMap<>();
        var builder = DocumentBuilderFactory.newInstance().newDocumentBuilder();
        NodeList modules = builder.parse(root.resolve("pom.xml").toFile()).getElementsByTagName("module");
        for (int i = 0; i < modules.getLength(); i++) {
            String module = modules.item(i).getTextContent().trim();
            NodeList deps = builder.parse(root.resolve(module).resolve("pom.xml").toFile())
                    .getElementsByTagName("dependency");
            List<String> ids = new ArrayList<>();
            for (int d = 0; d < deps.getLength(); d++) {
                ids.add(((Element) deps.item(d)).getElementsByTagName("artifactId").item(0).getTextContent().trim());
            }
            out.put(module, ids);
        }
        return out;
    }

    @Test
    void stagesAndSourcesDependOnNeitherEachOtherNorToolsInTheirPoms() throws Exception {
        Map<String, List<String>> deps = dependencies(root());
        assertTrue(deps.keySet().containsAll(STAGES) && deps.keySet().containsAll(SOURCES), "reactor: " + deps.keySet());
        List<String> broken = new ArrayList<>();
        for (String module : deps.keySet()) {
            boolean service = STAGES.contains(module) || SOURCES.contains(module);
            for (String artifact : deps.get(module)) {
                String dep = artifact.replaceFirst("^expertcast-", "");
                if (service && (STAGES.contains(dep) || SOURCES.contains(dep) || dep.equals("benchmarks")
                        || dep.equals("offline-tools") || dep.equals("launcher") || artifact.startsWith("jmh-"))) {
                    broken.add(module + " -> " + artifact);
                }
                if (module.equals("core") && (artifact.startsWith("expertcast-") || artifact.startsWith("kafka")
                        || artifact.startsWith("avro"))) {
                    broken.add("core -> " + artifact);
                }
            }
        }
        assertEquals(List.of(), broken, "dependencies docs/modules.md rules out");
    }

    @Test
    void stagesAndSourcesImportNeitherEachOtherNorTools() throws IOException {
        Path root = root();
        List<String> broken = new ArrayList<>();
        for (String module : PACKAGES.keySet()) {
            if (!STAGES.contains(module) && !SOURCES.contains(module)) {
                continue;
            }
            for (String dir : List.of("src/main/java", "src/test/java")) {
                Path src = root.resolve(module).resolve(dir);
                if (!Files.isDirectory(src)) {
                    continue;
                }
                try (Stream<Path> files = Files.walk(src)) {
                    for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                        Matcher m = IMPORT.matcher(Files.readString(file));
                        while (m.find()) {
                            for (Map.Entry<String, String> other : PACKAGES.entrySet()) {
                                if (!other.getKey().equals(module) && m.group(1).startsWith(other.getValue() + ".")) {
                                    broken.add(root.relativize(file) + " imports " + m.group(1));
                                }
                            }
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), broken, "imports docs/modules.md rules out");
    }
}
