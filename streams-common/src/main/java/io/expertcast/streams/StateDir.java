package io.expertcast.streams;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --state-dir}, the one option every command running a Kafka Streams application shares (a
 * picocli mixin): where its RocksDB stores and checkpoints live. One default for every service, so
 * services started side by side from one directory keep their state under one folder (each in a
 * sub-folder named after its application id).
 */
public final class StateDir {
    /** Relative to the current directory, as every service had it. */
    public static final String DEFAULT = "./work/state";

    @Option(names = "--state-dir", paramLabel = "DIR", defaultValue = DEFAULT,
            description = "Kafka Streams state directory; each application keeps its stores in a sub-folder named after "
                    + "its application id (default: ${DEFAULT-VALUE}, relative to the current directory).")
    Path dir = Path.of(DEFAULT);

    public StateDir() {
    }

    /** The directory given, or the default. */
    public Path path() {
        return dir;
    }
}
