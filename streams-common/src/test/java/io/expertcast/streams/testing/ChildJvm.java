package io.expertcast.streams.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A main class of the test classpath in a JVM of its own, for the tests that kill a service with
 * SIGKILL ({@link Process#destroyForcibly}) as a crash would: its stdout goes to {@code <work>/<name>.out}
 * (where the child says what state it reached, e.g. "RUNNING"), its stderr to {@code <work>/<name>.log}.
 */
public final class ChildJvm {
    private final Process process;
    private final Path stdout;
    private final Path log;

    private ChildJvm(Process process, Path stdout, Path log) {
        this.process = process;
        this.stdout = stdout;
        this.log = log;
    }

    /** Starts {@code main} with {@code args} and the test's classpath, at most {@code xmx} of heap (e.g. "384m"). */
    public static ChildJvm start(Path work, String name, String xmx, Class<?> main, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx" + xmx, main.getName()));
        command.addAll(List.of(args));
        Path stdout = work.resolve(name + ".out");
        Path log = work.resolve(name + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(stdout.toFile()).redirectError(log.toFile());
        // In the environment, not on the command line: the test classpath can exceed a command line's length.
        builder.environment().put("CLASSPATH", System.getProperty("java.class.path"));
        return new ChildJvm(builder.start(), stdout, log);
    }

    public Process process() {
        return process;
    }

    /**
     * Waits until the child's stdout holds one of {@code words} and returns the first of them (in the given
     * order) that it holds, or null when the child exited without; fails after {@code timeout}, killing it.
     */
    public String awaitOutput(Duration timeout, String... words) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            boolean alive = process.isAlive(); // read before the output, so an exit after writing is not missed
            String text = Files.exists(stdout) ? Files.readString(stdout) : "";
            for (String word : words) {
                if (text.contains(word)) {
                    return word;
                }
            }
            if (!alive) {
                return null;
            }
            if (System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new AssertionError("timed out after " + timeout + " waiting for " + String.join(" or ", words)
                        + " from " + stdout.getFileName() + "; its log:\n" + log());
            }
            Thread.sleep(50);
        }
    }

    /** As {@link #awaitOutput}, failing (with the child's log) unless the child said {@code word}. */
    public void await(Duration timeout, String word) throws IOException, InterruptedException {
        if (awaitOutput(timeout, word) == null) {
            throw new AssertionError(stdout.getFileName() + ": exited (" + process.exitValue() + ") before saying "
                    + word + "; its log:\n" + log());
        }
    }

    /** The child's stderr so far. */
    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }
}
