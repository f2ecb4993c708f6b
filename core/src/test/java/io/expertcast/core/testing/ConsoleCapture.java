package io.expertcast.core.testing;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.IntSupplier;

/** Runs a command-line entry point with System.out and System.err captured, for tests of commands. */
public final class ConsoleCapture {
    /** What a command returned and printed. */
    public record Run(int exit, String out, String err) {
    }

    private ConsoleCapture() {
    }

    /** Runs {@code command} (e.g. {@code () -> new CommandLine(new X()).execute(args)}) and restores the streams. */
    public static synchronized Run run(IntSupplier command) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int exit = command.getAsInt();
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }
}
