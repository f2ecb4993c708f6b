package io.expertcast.bench;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.core.trace.DatasetWriter;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.local.WorkDir;
import io.expertcast.local.TopicAdmin;
import io.expertcast.replayer.ReplayOptions;
import io.expertcast.replayer.ReplaySummary;
import io.expertcast.replayer.TraceReplayer;
import io.expertcast.schemas.Topics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.connect.KafkaConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code expertcast bench replay}: DeepSeek-shaped tokens per second read from the dataset's JSON and
 * produced to a broker, against the same files only parsed (no Kafka), in one run; then a replay
 * under a rate cap, to show how closely the cap holds.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Replay throughput: JSON to Kafka end to end vs JSON parsing alone, and the rate cap's accuracy.")
public final class ReplayBench implements Callable<Integer> {

    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--requests", defaultValue = "200", description = "Synthetic DeepSeek-V3 requests (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--batch", defaultValue = "256", description = "Requests per batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--rate-fraction", defaultValue = "0.5",
            description = "The capped run's rate as a fraction of the measured end-to-end rate (default ${DEFAULT-VALUE}).")
    double rateFraction;

    @Override
    public Integer call() throws IOException {
        ModelShape model = ModelCatalog.DEEPSEEK_V3;
        Path dir = WorkDir.defaultPath().resolve("bench").resolve("replay-deepseek-" + requests);
        if (!Files.isDirectory(dir.resolve("synthetic"))) {
            System.out.printf("writing %d synthetic %s requests to %s ...%n", requests, model.id(), dir);
            DatasetWriter writer = new DatasetWriter(dir, "synthetic");
            Iterator<RequestTrace> it = new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), 1)
                    .requests(requests);
            while (it.hasNext()) {
                writer.write(it.next());
            }
        }
        long bytes;
        try (Stream<Path> files = Files.walk(dir)) {
            bytes = files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
        String bootstrap = kafka.bootstrap();
        if (!BrokerPreflight.awaitReachable(bootstrap, kafka.brokerWait())) {
            System.err.println("bench replay: no broker at " + bootstrap + " (" + kafka.bootstrapOrigin()
                    + "); start one with `bin/expertcast broker start` or give --bootstrap HOST:PORT");
            return 1;
        }
        try (TopicAdmin admin = new TopicAdmin(bootstrap, kafka.clientProperties(), Duration.ofSeconds(15))) {
            admin.createAll(Topics.ALL, 4, (short) 1);
        } catch (RuntimeException e) {
            System.err.println("bench replay: cannot create the topics on " + bootstrap + ": " + e.getMessage());
            return 1;
        }
        // Warm-up: parse everything once so both timed runs start with a warm JIT and page cache.
        parseAll(dir);
        long parseStart = System.nanoTime();
        long tokens = parseAll(dir);
        double parseSeconds = (System.nanoTime() - parseStart) / 1e9;
        ReplaySummary e2e = TraceReplayer.replay(new ReplayOptions(bootstrap, dir, batch, 0, 0, false, 256, null, 0,
                kafka.clientProperties()), null);
        double e2eRate = e2e.tokens() / e2e.elapsedSeconds();
        double parseRate = tokens / parseSeconds;
        double cap = e2eRate * rateFraction;
        ReplaySummary capped = TraceReplayer.replay(new ReplayOptions(bootstrap, dir, batch, cap, 0, false, 256, null,
                0, kafka.clientProperties()), null);
        double cappedRate = capped.tokens() / capped.elapsedSeconds();
        System.out.printf(Locale.ROOT, "%d %s requests, %d tokens, %.0f MB of JSON, batch %d%n", requests, model.id(),
                tokens, bytes / 1e6, batch);
        System.out.printf(Locale.ROOT, "  parse only (JSON -> requests, no Kafka)   %10.0f tokens/s  (%.2f s)%n",
                parseRate, parseSeconds);
        System.out.printf(Locale.ROOT, "  end to end (JSON -> Kafka, acks=all)       %10.0f tokens/s  (%.2f s, %d events)%n",
                e2eRate, e2e.elapsedSeconds(), e2e.events());
        System.out.printf(Locale.ROOT, "  end to end / parse only                    %10.2f%n", e2eRate / parseRate);
        System.out.printf(Locale.ROOT, "  rate cap %.0f tokens/s: achieved           %10.0f tokens/s  (%+.1f %%)%n", cap,
                cappedRate, (cappedRate / cap - 1) * 100);
        return 0;
    }

    private static long parseAll(Path dir) {
        TraceDataset dataset = TraceDataset.open(dir, ModelCatalog.standard());
        long tokens = 0;
        Iterator<RequestTrace> it = dataset.requests(false, new ArrayList<>());
        while (it.hasNext()) {
            RequestTrace r = it.next();
            tokens += r.prefillTokens() + r.numDecodeSteps();
        }
        return tokens;
    }
}
