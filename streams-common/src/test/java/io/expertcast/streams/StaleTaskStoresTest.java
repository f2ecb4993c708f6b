package io.expertcast.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StaleTaskStoresTest {
    @TempDir
    Path state;

    /** Subtopology 0 counts into store "a", subtopology 1 into store "b". */
    private static Topology twoStores() {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream("in-a", Consumed.with(Serdes.String(), Serdes.String())).groupByKey()
                .count(Materialized.as("a"));
        builder.stream("in-b", Consumed.with(Serdes.String(), Serdes.String())).groupByKey()
                .count(Materialized.as("b"));
        return builder.build();
    }

    private Path task(String id, String... stores) throws Exception {
        Path task = state.resolve("app").resolve(id);
        Files.createDirectories(task);
        Files.writeString(task.resolve(".checkpoint"), "0\n");
        for (String s : stores) {
            Files.createDirectories(task.resolve("rocksdb").resolve(s));
        }
        return task;
    }

    @Test
    void aTaskDirectoryIsDeletedOnlyWhenItHoldsStoresItsSubtopologyDoesNotHave() throws Exception {
        Path kept0 = task("0_0", "a");
        Path kept1 = task("1_3", "b");
        Path noStores = task("2_0"); // a stateless task, or one of another topology that kept nothing
        Path renumbered = task("0_1", "b");
        Path gone = task("4_0", "a");
        Path other = Files.createDirectories(state.resolve("app").resolve("global"));
        Properties props = new Properties();
        props.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "app");

        List<Path> wiped = StaleTaskStores.wipe(props, twoStores());

        assertEquals(List.of(gone, renumbered).stream().sorted().toList(), wiped.stream().sorted().toList());
        assertFalse(Files.exists(renumbered));
        assertFalse(Files.exists(gone));
        assertTrue(Files.isDirectory(kept0.resolve("rocksdb").resolve("a")));
        assertTrue(Files.isDirectory(kept1.resolve("rocksdb").resolve("b")));
        assertTrue(Files.isDirectory(noStores));
        assertTrue(Files.isDirectory(other));
    }

    @Test
    void anApplicationWithoutStateIsLeftAlone() {
        Properties props = new Properties();
        props.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "never-ran");
        assertEquals(List.of(), StaleTaskStores.wipe(props, twoStores()));
    }
}
