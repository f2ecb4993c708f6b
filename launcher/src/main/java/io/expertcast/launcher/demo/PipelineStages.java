package io.expertcast.launcher.demo;

import io.expertcast.allocator.AllocatorApp;
import io.expertcast.allocator.AllocatorSettings;
import io.expertcast.emulator.EmulatorApp;
import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.predictor.PredictorApp;
import io.expertcast.predictor.PrefetchDelivery;
import io.expertcast.predictor.PredictorSettings;
import io.expertcast.emulator.http.PipelinePage;
import io.expertcast.emulator.http.WaferHttpServer;
import io.expertcast.streams.http.OpsServer;
import io.expertcast.streams.metrics.ServiceMetrics;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
    private final List<AutoCloseable> servers = new ArrayList<>();
    private final Map<String, String> endpoints = new LinkedHashMap<>();

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
            // Prefetch commands at once (at least once), as `expertcast predictor` sends them by default.
            Map<String, Object> predictorOverrides = new java.util.HashMap<>();
            predictorOverrides.put(PrefetchDelivery.CONFIG, PrefetchDelivery.IMMEDIATE.label());
            predictorOverrides.putAll(overrides);
            stages.add(predictorId, PredictorApp.start(bootstrap, stateRoot.resolve("predictor"),
                    PredictorSettings.defaults().withApplicationName(predictorId), predictorOverrides));
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

    /**
     * As {@link #start(String, Path, String, Map, WaferSnapshot)}, each stage as a service with its HTTP
     * server on 127.0.0.1 (port 0, or a port in use: a free one; {@link #endpoints()} says which): /metrics and
     * /health everywhere, the predictor's queries,
     * and the pipeline's page on the emulator's {@code pagePort}, reading the topics.
     */
    public static PipelineStages startServed(String bootstrap, Path stateRoot, String applicationPrefix,
                                             Map<String, ?> overrides, WaferSnapshot wafer, int pagePort,
                                             int predictorPort, int allocatorPort) throws IOException {
        PipelineStages stages = new PipelineStages();
        try {
            String predictorId = applicationPrefix + "predictor";
            PredictorSettings predictorSettings = PredictorSettings.defaults().withApplicationName(predictorId);
            // Prefetch commands at once (at least once), as `expertcast predictor` sends them by default.
            Map<String, Object> predictorOverrides = new java.util.HashMap<>();
            predictorOverrides.put(PrefetchDelivery.CONFIG, PrefetchDelivery.IMMEDIATE.label());
            predictorOverrides.putAll(overrides);
            PredictorApp.Queried predictor;
            try {
                predictor = PredictorApp.startWithQueries(bootstrap, stateRoot.resolve("predictor"), predictorSettings,
                        predictorOverrides, predictorPort);
            } catch (BindException taken) { // a port in use: any free one (the endpoints say which)
                predictor = PredictorApp.startWithQueries(bootstrap, stateRoot.resolve("predictor"), predictorSettings,
                        predictorOverrides, 0);
            }
            stages.servers.add(predictor);
            stages.add(predictorId, predictor.streams());
            stages.endpoints.put("predictor", "http://" + predictor.http().advertisedAddress() + "/");

            String allocatorId = applicationPrefix + "allocator";
            AllocatorSettings allocator = AllocatorSettings.defaults();
            ServiceMetrics allocatorMetrics = ServiceMetrics.create("allocator");
            stages.servers.add(allocatorMetrics);
            KafkaStreams allocatorStreams = AllocatorApp.start(bootstrap, stateRoot.resolve("allocator"),
                    new AllocatorSettings(allocator.catalog(), allocator.hardware(), allocatorId, null), overrides,
                    allocatorMetrics);
            stages.add(allocatorId, allocatorStreams);
            OpsServer allocatorHttp;
            try {
                allocatorHttp = OpsServer.start(allocatorPort, allocatorMetrics, () -> allocatorStreams);
            } catch (BindException taken) {
                allocatorHttp = OpsServer.start(0, allocatorMetrics, () -> allocatorStreams);
            }
            stages.servers.add(allocatorHttp);
            stages.endpoints.put("allocator", allocatorHttp.url());

            String emulatorId = applicationPrefix + "emulator";
            EmulatorSettings emulator = EmulatorSettings.defaults().withApplicationName(emulatorId);
            ServiceMetrics emulatorMetrics = ServiceMetrics.create("emulator");
            stages.servers.add(emulatorMetrics);
            KafkaStreams emulatorStreams = EmulatorApp.start(bootstrap, stateRoot.resolve("emulator"), emulator, overrides,
                    wafer, emulatorMetrics);
            stages.add(emulatorId, emulatorStreams);
            PipelinePage page = new PipelinePage(emulator.catalog()).follow(bootstrap, emulatorId + "-page", emulatorMetrics);
            stages.servers.add(page);
            WaferHttpServer http;
            try {
                http = WaferHttpServer.start(InetAddress.getLoopbackAddress(), pagePort, wafer, Duration.ofSeconds(1),
                        emulatorMetrics, () -> emulatorStreams, page);
            } catch (BindException taken) {
                http = WaferHttpServer.start(InetAddress.getLoopbackAddress(), 0, wafer, Duration.ofSeconds(1),
                        emulatorMetrics, () -> emulatorStreams, page);
            }
            stages.servers.add(http);
            stages.endpoints.put("emulator", http.url());
            return stages;
        } catch (IOException | RuntimeException e) {
            stages.close();
            throw e;
        }
    }

    /** Service name -> its HTTP base URL (http://127.0.0.1:port/), for stages started with {@link #startServed}. */
    public Map<String, String> endpoints() {
        return java.util.Collections.unmodifiableMap(new LinkedHashMap<>(endpoints));
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
        // Servers and readers after the streams, in reverse order of start (the registries last).
        for (int i = servers.size() - 1; i >= 0; i--) {
            try {
                servers.get(i).close();
            } catch (Exception e) {
                System.err.println("closing " + servers.get(i) + " failed: " + e);
            }
        }
        servers.clear();
    }
}
