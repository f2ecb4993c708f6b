package io.expertcast.launcher.demo;

import io.expertcast.allocator.AllocatorApp;
import io.expertcast.allocator.AllocatorSettings;
import io.expertcast.emulator.EmulatorApp;
import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.predictor.PredictorApp;
import io.expertcast.predictor.PredictorSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The three stream stages (predictor, allocator, emulator) running in this JVM, each a separate
 * Kafka Streams application with its own state directory, as they would run as three services.
 */
public final class PipelineStages implements AutoCloseable {
    private final List<KafkaStreams> running = new ArrayList<>();
    private final List<String> names = new ArrayList<>();

    private PipelineStages() {
    }

    /**
     * Starts the stages against {@code bootstrap}; {@code applicationPrefix} makes their
     * application ids (and so consumer groups and internal topics) unique to this run.
     */
    public static PipelineStages start(String bootstrap, Path stateRoot, String applicationPrefix,
                                       Map<String, ?> overrides) {
        return start(bootstrap, stateRoot, applicationPrefix, overrides, new WaferSnapshot());
    }

    /** As above; the emulator reports to {@code wafer} (what its HTTP server and dashboard show). */
    public static PipelineStages start(String bootstrap, Path stateRoot, String applicationPrefix,
                                       Map<String, ?> overrides, WaferSnapshot wafer) {
        return start(bootstrap, stateRoot, applicationPrefix, overrides, wafer, EmulatorSettings.defaults());
    }

    /** As above, the emulator with {@code emulator}'s settings (its application id still from the prefix). */
    public static PipelineStages start(String bootstrap, Path stateRoot, String applicationPrefix,
                                       Map<String, ?> overrides, WaferSnapshot wafer, EmulatorSettings emulator) {
        PipelineStages stages = new PipelineStages();
        try {
            String predictorId = applicationPrefix + "predictor";
            stages.add(predictorId, PredictorApp.start(bootstrap, stateRoot.resolve("predictor"),
                    PredictorSettings.defaults().withApplicationName(predictorId), overrides));
            String allocatorId = applicationPrefix + "allocator";
            AllocatorSettings allocator = AllocatorSettings.defaults();
            // Without workload-profile rebalancing: the demo's passes are planned on the even table, the one
            // the offline `simulate` uses (StreamingEqualsOfflineTest compares the two exactly).
            stages.add(allocatorId, AllocatorApp.start(bootstrap, stateRoot.resolve("allocator"),
                    new AllocatorSettings(allocator.catalog(), allocator.hardware(), allocatorId, null), overrides));
            String emulatorId = applicationPrefix + "emulator";
            stages.add(emulatorId, EmulatorApp.start(bootstrap, stateRoot.resolve("emulator"),
                    emulator.withApplicationName(emulatorId), overrides, wafer));
            return stages;
        } catch (RuntimeException e) {
            stages.close();
            throw e;
        }
    }

    private void add(String name, KafkaStreams streams) {
        names.add(name);
        running.add(streams);
    }

    /** Waits until every stage is RUNNING; fails if one errors or the timeout passes. */
    public void awaitRunning(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            boolean all = true;
            for (int i = 0; i < running.size(); i++) {
                KafkaStreams.State state = running.get(i).state();
                if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.NOT_RUNNING
                        || state == KafkaStreams.State.PENDING_ERROR) {
                    throw new IllegalStateException(names.get(i) + " stopped: " + state);
                }
                all &= state == KafkaStreams.State.RUNNING;
            }
            if (all) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("stages not running after " + timeout + ": " + states());
            }
            Thread.sleep(100);
        }
    }

    /** The stages' Streams clients, in start order (predictor, allocator, emulator). */
    public List<KafkaStreams> streams() {
        return List.copyOf(running);
    }

    /** The stages' application ids, in the order of {@link #streams()}. */
    public List<String> names() {
        return List.copyOf(names);
    }

    /** Stage states, for messages. */
    public String states() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < running.size(); i++) {
            out.add(names.get(i) + "=" + running.get(i).state());
        }
        return String.join(", ", out);
    }

    @Override
    public void close() {
        for (KafkaStreams streams : running) {
            streams.close(Duration.ofSeconds(30));
        }
        running.clear();
    }
}
