package io.expertcast.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.local.LocalBroker;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs docs/run-by-hand.md's walkthrough, as written, with bash: a broker, the topics, the three
 * services as separate processes, a replay, the HTTP queries, dead-letters, topics list, a repeated
 * replay and the stops. Only the ports change (to free ones) and the repository is a temporary
 * folder whose bin/expertcast runs this build's classes (bin/expertcast itself would build with Maven).
 */
class WalkthroughTest {
    private static final Path DOC = Path.of("..", "docs", "run-by-hand.md");

    @TempDir
    Path home;

    @Test
    void theWalkthroughRunsAsWritten() throws Exception {
        String script = walkthrough(Files.readString(DOC));
        Map<String, Integer> ports = Map.of("9092", freePort(), "9093", freePort(), "8470", freePort(), "8471",
                freePort());
        for (var e : ports.entrySet()) {
            script = script.replaceAll("\\b" + e.getKey() + "\\b", e.getValue().toString());
        }
        Files.createDirectories(home.resolve("bin"));
        Files.createDirectories(home.resolve("work"));
        Files.createSymbolicLink(home.resolve("data"), Path.of("..", "data").toAbsolutePath().normalize());
        Path launcher = home.resolve("bin/expertcast");
        Files.writeString(launcher, "#!/usr/bin/env bash\nexec \"" + Path.of(System.getProperty("java.home"), "bin", "java")
                + "\" -Xmx384m io.expertcast.launcher.Main \"$@\"\n");
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path file = home.resolve("walkthrough.sh");
        Files.writeString(file, "set -euo pipefail\n" + script);
        Path log = home.resolve("walkthrough.log");
        ProcessBuilder bash = new ProcessBuilder("bash", file.toString()).directory(home.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        bash.environment().put("CLASSPATH", System.getProperty("java.class.path"));
        bash.environment().put("EXPERTCAST_HOME", home.toString());
        Process process = bash.start();
        boolean finished;
        try {
            finished = process.waitFor(300, TimeUnit.SECONDS);
        } finally {
            // Whatever happened, nothing the script started outlives the test.
            process.descendants().forEach(ProcessHandle::destroy);
            process.destroy();
            LocalBroker.withCurrentClasspath(home.resolve("work"), ports.get("9092"), ports.get("9093"))
                    .stop(Duration.ofSeconds(20));
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(finished, "the walkthrough did not finish in 300 s:\n" + output);
        assertEquals(0, process.exitValue(), "the walkthrough failed:\n" + output + services());
        for (String expected : List.of(
                "broker started: pid",
                "broker running: pid",
                "topics on 127.0.0.1:" + ports.get("9092") + ": " + io.expertcast.schemas.Topics.ALL.size()
                        + " created, 0 existing",
                "llama4-maverick/mmlu/abstract_algebra/0",
                "replayed 30 requests",
                "no dead letters on moe.dead-letter",
                "on disk: ",
                "expertcast-allocator (internal)",
                "replay by-hand had completed before (30 requests): nothing left to send",
                "broker stopped: pid")) {
            assertTrue(output.contains(expected), "missing '" + expected + "' in:\n" + output);
        }
    }

    /** The first sh block after "## The walkthrough". */
    static String walkthrough(String markdown) {
        int section = markdown.indexOf("## The walkthrough");
        Matcher block = Pattern.compile("```sh\n(.*?)```", Pattern.DOTALL).matcher(markdown);
        assertTrue(section >= 0 && block.find(section), "no sh block after '## The walkthrough'");
        return block.group(1);
    }

    private String services() throws Exception {
        StringBuilder s = new StringBuilder();
        for (String name : List.of("predictor", "allocator", "emulator", "replay")) {
            Path log = home.resolve("work/" + name + ".log");
            if (Files.exists(log)) {
                List<String> lines = Files.readAllLines(log);
                s.append("\n--- ").append(log).append(" (last 30 lines)\n")
                        .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size())));
            }
        }
        return s.toString();
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
