package io.expertcast.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Where local state lives (broker data and logs, Streams state): {@code <EXPERTCAST_HOME>/work}, a
 * git-ignored folder of the repository. {@code bin/expertcast} exports EXPERTCAST_HOME; without it
 * the current directory stands in.
 */
public final class WorkDir {

    /** Environment variable naming the repository (or install) root. */
    public static final String HOME_ENV = "EXPERTCAST_HOME";

    private WorkDir() {
    }

    /** The default work directory, absolute. */
    public static Path defaultPath() {
        String home = System.getProperty("expertcast.home", System.getenv(HOME_ENV));
        Path root = home == null || home.isBlank() ? Path.of("") : Path.of(home);
        return root.toAbsolutePath().resolve("work").normalize();
    }

    /** Deletes {@code dir} and everything in it (a run's broker data and state); nothing if it is not there. */
    public static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        } catch (UncheckedIOException e) { // from the walk
            throw e.getCause();
        }
    }
}
