package io.expertcast.launcher.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.launcher.ExpertcastCommand;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The short fault suite, as CI runs it: every scenario of the table passes against the real services
 * (skew and flood run in the full suite only; FloodTest floods the services in-JVM).
 */
@Tag("slow")
class ChaosCommandTest {
    @TempDir
    Path work;

    @Test
    void theQuickSuitePassesEveryScenario() throws IOException {
        StringWriter out = new StringWriter();
        CommandLine cli = ExpertcastCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(out, true));
        int code = cli.execute("chaos", "--quick", "--work-dir", work.toString(), "--port",
                Integer.toString(freeRange(6)), "--traces", Path.of("../data/sample").toAbsolutePath().toString());
        System.out.println(out);
        assertEquals(0, code, out.toString());
        for (String scenario : new String[] {"two-source", "replay", "crash", "broker", "oversized",
                "tag-cardinality"}) {
            assertTrue(out.toString().lines().anyMatch(l -> l.startsWith(scenario + " ") && l.endsWith("| pass")),
                    scenario + ": " + out);
        }
    }

    /** A base port whose next {@code count} ports are all free on the loopback. */
    private static int freeRange(int count) throws IOException {
        for (int attempt = 0; attempt < 200; attempt++) {
            int base = ThreadLocalRandom.current().nextInt(20_000, 60_000);
            boolean free = true;
            for (int p = base; p < base + count && free; p++) {
                try (ServerSocket s = new ServerSocket()) {
                    s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), p));
                } catch (IOException e) {
                    free = false;
                }
            }
            if (free) {
                return base;
            }
        }
        throw new IOException("no " + count + " consecutive free ports");
    }
}
