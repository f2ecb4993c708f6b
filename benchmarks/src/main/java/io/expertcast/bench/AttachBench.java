package io.expertcast.bench;

import io.expertcast.attach.sglang.SglangAttach;
import io.expertcast.attach.standin.RecorderStandIn;
import io.expertcast.attach.standin.SimulatedEngine;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.local.WorkDir;
import io.expertcast.local.TopicAdmin;
import io.expertcast.core.sglang.PerTokenSplitter;
import io.expertcast.core.sglang.RecorderDump;
import io.expertcast.schemas.Topics;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import io.expertcast.streams.connect.KafkaConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code expertcast bench attach}: DeepSeek-V3-shaped per_token recorder windows (written by the
 * stand-in in SGLang's format) read, split and published exactly once per second by attach, against
 * import-sglang's reading and splitting of the same files without Kafka, in one run.
 */
@Command(name = "attach", mixinStandardHelpOptions = true,
        description = "attach sglang throughput: per_token windows published per second vs import-sglang's parse of the same files.")
public final class AttachBench implements Callable<Integer> {

    /** The broker the bench publishes to (start one with: expertcast broker start). */
    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--windows", defaultValue = "12", description = "Dump windows (default ${DEFAULT-VALUE}).")
    int windows;

    @Option(names = "--passes", defaultValue = "40", description = "Forward passes per window (default ${DEFAULT-VALUE}).")
    int passes;

    @Option(names = "--batch", defaultValue = "64", description = "Running requests at most (default ${DEFAULT-VALUE}).")
    int batch;

    @Override
    public Integer call() throws Exception {
        Path dir = WorkDir.defaultPath().resolve("bench").resolve("attach-" + windows + "x" + passes + "x" + batch);
        WorkDir.delete(dir);
        SimulatedEngine engine = new SimulatedEngine(new SimulatedEngine.Shape(61, 3, 256, 32, 8, batch,
                new int[] {32, 512}, new int[] {16, 128}), 1);
        long bytes = 0;
        try (RecorderStandIn standIn = RecorderStandIn.start(engine, dir, RecorderStandIn.Mode.PER_TOKEN, 1, 0)) {
            standIn.startRecording();
            for (int w = 0; w < windows; w++) {
                standIn.run(passes);
                for (Path f : standIn.dump()) {
                    bytes += Files.size(f);
                }
            }
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.sorted(Comparator.comparing(Path::toString)).toList();
        }
        System.out.printf(Locale.ROOT, "%d DeepSeek-V3-shaped per_token windows of %d passes (%d running requests at most),"
                + " %.1f MB in %s%n", windows, passes, batch, bytes / 1e6, dir);
        String bootstrap = kafka.bootstrap();
        Map<String, Object> client = kafka.clientProperties();
        try (TopicAdmin admin = new TopicAdmin(bootstrap, client, Duration.ofSeconds(15))) {
            admin.createAll(Topics.ALL, 4, (short) 1);
        } catch (RuntimeException e) {
            System.err.println("bench attach: no broker at " + bootstrap + " (" + e.getMessage()
                    + "); start one with: expertcast broker start");
            return 1;
        }

        // import-sglang's work on the same files, without Kafka: read each dump and split it into requests
        long t0 = System.nanoTime();
        long requests = 0;
        for (Path f : files) {
            RecorderDump.PerToken dump = (RecorderDump.PerToken) RecorderDump.read(f);
            requests += PerTokenSplitter.split(dump, ModelCatalog.DEEPSEEK_V3, f.getFileName().toString())
                    .requests().size();
        }
        double importS = (System.nanoTime() - t0) / 1e9;

        // attach: read, split across window edges, serialise, publish in one transaction per window with its checkpoint
        String source = "bench-attach-" + System.currentTimeMillis();
        SglangAttach.Options options = new SglangAttach.Options("http://127.0.0.1:9", dir, "per_token", 1000, bootstrap,
                source, "deepseek-v3", 1, 1000).withClientProperties(client);
        PrintStream quiet = new PrintStream(PrintStream.nullOutputStream());
        double attachS;
        SglangAttach.Stats stats;
        try (SglangAttach attach = new SglangAttach(options, quiet, System.err)) {
            long t1 = System.nanoTime();
            int published = attach.publishSettled();
            attachS = (System.nanoTime() - t1) / 1e9;
            stats = attach.stats();
            if (published != windows) {
                System.err.println("bench attach: published " + published + " of " + windows + " windows");
                return 1;
            }
        }
        double importRate = windows / importS;
        double attachRate = windows / attachS;
        System.out.printf(Locale.ROOT, "import-sglang (read + split, no Kafka): %.2f windows/s (%.2f s, %d requests)%n",
                importRate, importS, requests);
        System.out.printf(Locale.ROOT, "attach (read + split + publish, exactly once): %.2f windows/s (%.2f s, %d passes,"
                + " %d selection events, %d loads)%n", attachRate, attachS, stats.passes(), stats.selections(), stats.loads());
        System.out.printf(Locale.ROOT, "attach / import-sglang: %.2f%n", attachRate / importRate);
        return 0;
    }
}
