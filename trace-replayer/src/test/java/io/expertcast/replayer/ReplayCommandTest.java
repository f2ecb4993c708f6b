package io.expertcast.replayer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ReplayCommandTest {
    @TempDir
    Path dir;

    private int run(ByteArrayOutputStream err, String... args) {
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true));
        try {
            return new CommandLine(new ReplayCommand()).execute(args);
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void aTruncatedTraceStopsReplayWithTheFileAndPositionAndExitCode2() throws Exception {
        Path file = dir.resolve("meta-llama/Llama-4-Maverick-17B-128E-Instruct/mmlu/anatomy/3.json");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "[\n    {\n        \"0\": null,\n        \"1\": [\n            [\n                12");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        // Port 1: nothing listens; the bad file is found before anything is sent.
        int code = run(err, "--traces", dir.toString(), "--bootstrap", "127.0.0.1:1");
        assertEquals(2, code);
        assertTrue(err.toString().contains("3.json"), err.toString());
        assertTrue(err.toString().contains("line "), err.toString());
        assertTrue(err.toString().contains("malformed JSON"), err.toString());
    }

    @Test
    void aFolderWithoutTracesAndBadOptionsAreClearErrors() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run(err, "--traces", dir.toString()));
        assertTrue(err.toString().contains("no trace files"), err.toString());
        assertEquals(2, run(new ByteArrayOutputStream(), "--traces", dir.toString(), "--batch", "0"));
        assertEquals(2, run(new ByteArrayOutputStream(), "--traces", dir.toString(), "--rate", "-5"));
    }
}
