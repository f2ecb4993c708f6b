package io.expertcast.replayer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.kafka.clients.admin.NewTopic;
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
        int code;
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopics(Topics.ALL.stream().map(t -> new NewTopic(t.name(), 1, (short) 1)).toList());
            code = run(err, "--traces", dir.toString(), "--bootstrap", kafka.bootstrapServers());
        }
        assertEquals(2, code);
        assertTrue(err.toString().contains("3.json"), err.toString());
        assertTrue(err.toString().contains("line "), err.toString());
        assertTrue(err.toString().contains("malformed JSON"), err.toString());
    }

    @Test
    void aModelFolderInsideTheDatasetIsReadWithItsRootAndAnEmptyFolderNamesTheRoot() throws Exception {
        Path file = dir.resolve("meta-llama/Llama-4-Maverick-17B-128E-Instruct/mmlu/anatomy/3.json");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "[]");
        Path model = dir.resolve("meta-llama/Llama-4-Maverick-17B-128E-Instruct");
        var dataset = io.expertcast.core.trace.TraceDataset.open(model, io.expertcast.core.model.ModelCatalog.standard());
        assertEquals(java.util.List.of(file.toAbsolutePath()), dataset.files());
        Path subject = file.getParent();
        assertEquals(1, io.expertcast.core.trace.TraceDataset.open(subject,
                io.expertcast.core.model.ModelCatalog.standard()).files().size());
        Path empty = dir.resolve("empty");
        Files.createDirectories(empty);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run(err, "--traces", empty.toString()));
        assertTrue(err.toString().contains("the dataset root (the folder holding <org>/<model>/<benchmark>/<subject>"),
                err.toString());
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
