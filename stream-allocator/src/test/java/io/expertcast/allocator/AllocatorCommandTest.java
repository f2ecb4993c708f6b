package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class AllocatorCommandTest {
    @Test
    void anUnknownMeshIsAClearErrorNotAStackTrace() {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new AllocatorCommand()).setErr(new PrintWriter(err));
        int code = cli.execute("--mesh", "no-such-wafer", "--bootstrap", "127.0.0.1:1");
        assertEquals(2, code);
        assertTrue(err.toString().startsWith("allocator: unknown hardware config 'no-such-wafer'"), err.toString());
    }

    @Test
    void anUnknownRebalancePolicyOrANegativeBudgetIsAUsageError() {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new AllocatorCommand()).setErr(new PrintWriter(err));
        assertEquals(2, cli.execute("--rebalance-policy", "random", "--bootstrap", "127.0.0.1:1"));
        assertTrue(err.toString().startsWith("allocator: unknown placement policy 'random'; known: [even, eplb, "),
                err.toString());
        err.getBuffer().setLength(0);
        assertEquals(2, cli.execute("--rebalance-max-moves", "-1", "--bootstrap", "127.0.0.1:1"));
        assertTrue(err.toString().startsWith("allocator: max moves per layer must be >= 0, got -1"), err.toString());
    }

    @Test
    void helpListsTheOptions() {
        StringWriter out = new StringWriter();
        int code = new CommandLine(new AllocatorCommand()).setOut(new PrintWriter(out)).execute("--help");
        assertEquals(0, code);
        for (String option : new String[] {"--bootstrap", "--state-dir", "--mesh", "--application-id",
                "--rebalance-policy", "--rebalance-period-ms", "--rebalance-max-moves", "--profile-decay"}) {
            assertTrue(out.toString().contains(option), option);
        }
    }
}
