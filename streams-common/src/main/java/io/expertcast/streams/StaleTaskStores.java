package io.expertcast.streams;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Local task directories whose stores the topology does not give their task, deleted before the application
 * starts. Kafka Streams 4.3 opens every task directory it finds at start (to report its stores' offsets), with
 * the stores the current topology has for that task's subtopology; a directory left by another topology of the
 * same application id (subtopologies renumbered: e.g. the predictor switched from role all to role requests, whose
 * accuracy store moves from subtopology 3 to 2) holds stores of another subtopology, and the start fails
 * ("Metrics recorder is re-initialised with different task"). Only for an application whose task stores are all
 * changelogged (the predictor's are): a deleted directory then costs a restore from the changelogs, as a task that
 * moved to this instance does, and loses nothing.
 */
public final class StaleTaskStores {
    private static final Logger LOG = LoggerFactory.getLogger(StaleTaskStores.class);
    private static final Pattern TASK = Pattern.compile("(\\d+)_\\d+");

    private StaleTaskStores() {
    }

    /**
     * Deletes each {@code <state.dir>/<application.id>/<subtopology>_<partition>} whose subtopology {@code topology}
     * does not have, or whose {@code rocksdb/} directory holds a store that subtopology does not; returns them.
     */
    public static List<Path> wipe(Properties streamsProperties, Topology topology) {
        Object stateDir = streamsProperties.get(StreamsConfig.STATE_DIR_CONFIG);
        Object applicationId = streamsProperties.get(StreamsConfig.APPLICATION_ID_CONFIG);
        List<Path> wiped = new ArrayList<>();
        if (stateDir == null || applicationId == null) {
            return wiped;
        }
        Path app = Path.of(stateDir.toString(), applicationId.toString());
        if (!Files.isDirectory(app)) {
            return wiped;
        }
        Map<Integer, Set<String>> stores = storesBySubtopology(topology.describe());
        try (Stream<Path> tasks = Files.list(app)) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                Matcher m = TASK.matcher(task.getFileName().toString());
                if (!m.matches() || !Files.isDirectory(task)) {
                    continue;
                }
                Set<String> expected = stores.get(Integer.parseInt(m.group(1)));
                Set<String> found = storesIn(task);
                if (expected == null ? !found.isEmpty() : !expected.containsAll(found)) {
                    LOG.warn("{}: its stores {} are not those of this topology's subtopology {} ({}); deleted, to be "
                            + "restored from the changelogs", task, found, m.group(1),
                            expected == null ? "none" : expected);
                    delete(task);
                    wiped.add(task);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the task directories of " + app, e);
        }
        return wiped;
    }

    private static Map<Integer, Set<String>> storesBySubtopology(TopologyDescription description) {
        Map<Integer, Set<String>> stores = new HashMap<>();
        for (TopologyDescription.Subtopology s : description.subtopologies()) {
            Set<String> names = stores.computeIfAbsent(s.id(), id -> new HashSet<>());
            for (TopologyDescription.Node node : s.nodes()) {
                if (node instanceof TopologyDescription.Processor p) {
                    names.addAll(p.stores());
                }
            }
        }
        return stores;
    }

    /** The persistent stores a task directory holds (RocksDB keeps each in rocksdb/<store name>). */
    private static Set<String> storesIn(Path task) throws IOException {
        Set<String> names = new HashSet<>();
        Path rocksdb = task.resolve("rocksdb");
        if (Files.isDirectory(rocksdb)) {
            try (Stream<Path> dirs = Files.list(rocksdb)) {
                dirs.forEach(d -> names.add(d.getFileName().toString()));
            }
        }
        return names;
    }

    private static void delete(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the stale task directory " + dir, e);
        }
    }
}
