package io.expertcast.local;

import java.nio.file.Path;

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
}
