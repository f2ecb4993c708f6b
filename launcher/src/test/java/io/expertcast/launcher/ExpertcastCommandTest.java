package io.expertcast.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line without a broker: help, version, and bad input as clear errors with exit codes. */
class ExpertcastCommandTest {

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cli = ExpertcastCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void helpListsTheSubcommands() {
        assertEquals(0, run("--help"));
        assertTrue(out.toString().contains("broker"), out.toString());
        assertTrue(out.toString().contains("topics"), out.toString());
        for (String sub : new String[] {"predictor", "replay", "allocator", "emulator", "demo"}) {
            assertTrue(out.toString().contains(sub), sub + " missing from: " + out);
        }
        assertTrue(out.toString().contains("allocator"), out.toString());
    }

    @Test
    void versionComesFromThePom() {
        assertEquals(0, run("--version"));
        assertTrue(out.toString().startsWith("expertcast 0."), out.toString());
        assertTrue(out.toString().contains("Kafka 4."), out.toString());
    }

    @Test
    void missingSubcommandIsAUsageError() {
        assertEquals(2, run());
        assertTrue(err.toString().contains("Missing subcommand"), err.toString());
    }

    @Test
    void statusOfABrokerNeverStartedIsNotRunning(@TempDir Path work) {
        assertEquals(3, run("broker", "status", "--work-dir", work.toString()));
        assertEquals("broker not running", out.toString().trim());
        assertEquals(0, run("broker", "stop", "--work-dir", work.toString()));
    }

    @Test
    void topicsAgainstNoBrokerFailWithinTheTimeoutAndSayWhy() throws IOException {
        int closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = socket.getLocalPort();
        }
        long t0 = System.nanoTime();
        assertEquals(1, run("topics", "list", "--bootstrap", "127.0.0.1:" + closed, "--timeout", "1"));
        assertTrue((System.nanoTime() - t0) / 1e9 < 10);
        assertTrue(err.toString().contains("no broker at 127.0.0.1:" + closed), err.toString());
    }

    @Test
    void badTopicOptionsAreRejectedBeforeConnecting() {
        assertEquals(2, run("topics", "create", "--partitions", "0", "--bootstrap", "127.0.0.1:1"));
        assertTrue(err.toString().contains("must be at least 1"), err.toString());
        assertEquals(1, run("topics", "create", "--bootstrap", "no-port-here"));
        assertTrue(err.toString().contains("is not host:port"), err.toString());
        assertEquals(2, run("broker", "start", "--port", "abc"));
    }
}
