package io.expertcast.streams;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The local copies of an application's global stores, deleted before it starts. Under exactly-once,
 * Kafka Streams 4.3 finds a global store left by a kill -9 without its offsets "corrupted", and its
 * global thread dies on it at every start (KAFKA-21034: the task stores are wiped and restored, the
 * global ones are not): the service could not be restarted. A global store is a copy of its source
 * topic, so the copy is rebuilt from the topic at each start (for the predictor's heatmaps, a read of
 * the compacted moe.heatmaps).
 */
public final class GlobalStoreCopies {
    private GlobalStoreCopies() {
    }

    /** Deletes {@code <state.dir>/<application.id>/global} if it exists; returns whether it did. */
    public static boolean wipe(Properties streamsProperties) {
        Object stateDir = streamsProperties.get(StreamsConfig.STATE_DIR_CONFIG);
        Object applicationId = streamsProperties.get(StreamsConfig.APPLICATION_ID_CONFIG);
        if (stateDir == null || applicationId == null) {
            return false;
        }
        Path global = Path.of(stateDir.toString(), applicationId.toString(), "global");
        if (!Files.isDirectory(global)) {
            return false;
        }
        try (Stream<Path> walk = Files.walk(global)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the global stores' copy " + global, e);
        }
        return true;
    }
}
