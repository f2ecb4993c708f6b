package io.expertcast.bench;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.local.WorkDir;
import io.expertcast.local.LocalBroker;
import io.expertcast.local.TopicAdmin;
import io.expertcast.predictor.PredictorApp;
import io.expertcast.predictor.PrefetchDelivery;
import io.expertcast.predictor.PredictorSettings;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.streams.pass.ScheduledPass;
import io.expertcast.core.trace.source.SyntheticSource;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.BoundedMemoryRocksDbConfig;
import io.expertcast.streams.StreamsSettings;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import io.expertcast.streams.connect.KafkaConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code expertcast bench predictor}: the predictor topology under exactly_once_v2 on a real broker,
 * fed a DeepSeek-shaped synthetic stream (58 MoE layers, top-8, one record per request per step).
 * <ol>
 *   <li>Throughput: the stream is loaded while the predictor is paused, a plain consumer reads and
 *       deserializes the same records (baseline), a Streams application with the predictor's settings
 *       that only turns each decode event into a command ({@link PassThroughBaseline}, the second
 *       baseline: the Streams ceiling here) is timed over them, then the predictor is resumed and timed
 *       until its committed offsets reach the end. All rates and their ratios come from the same run.</li>
 *   <li>Latency: events paced at a fixed rate through the running predictor; per prefetch command, its
 *       append time minus the append time of the decode event that triggered it (both topics use
 *       LogAppendTime, so both are the broker's clock), and the time until a read_committed consumer
 *       sees it. NEXT_TOKEN commands match their event by (request, targetStep - 1), DECODE_PHASE
 *       commands by (request, targetStep). The pass-through runs the same paced stream first (from a topic
 *       of its own, the predictor paused), for its NEXT_TOKEN latency.</li>
 *   <li>Memory at the end: heap after a GC, RocksDB from the Streams metrics and the shared cache.</li>
 * </ol>
 */
@Command(name = "predictor", mixinStandardHelpOptions = true,
        description = "Predictor throughput (exactly_once_v2) vs a plain deserializing consumer and a Streams pass-through, prefetch latency at a "
                + "paced rate, heap and RocksDB memory; DeepSeek-shaped synthetic stream.")
public final class PredictorBench implements Callable<Integer> {
    private static final ModelShape MODEL = ModelCatalog.DEEPSEEK_V3;
    private static final int PREFILL_CHUNK = 256;
    /** How long the latency run waits for outstanding commands after its last send. */
    private static final Duration DRAIN = Duration.ofSeconds(60);
    /** Decode events per round of the floor's measurement ({@link ForecastFloor}). */
    private static final int FLOOR_EVENTS = 10_000;

    /** --bootstrap (or bootstrap.servers in --config/--property): that broker (its moe.selections must be empty) instead of the bench's own. */
    @Mixin
    KafkaConnection kafka = new KafkaConnection();
    /** --config/--property, given to every client the bench makes. */
    private Map<String, Object> client = Map.of();

    @Option(names = "--port", defaultValue = "29092", description = "Client port of the bench's own broker (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--controller-port", defaultValue = "29093", description = "Controller port of the bench's broker (default ${DEFAULT-VALUE}).")
    int controllerPort;

    @Option(names = "--requests", defaultValue = "500", description = "Synthetic requests of the throughput run (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--batch", defaultValue = "256", description = "Requests in flight, as a serving batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--partitions", defaultValue = "4", description = "Partitions per topic (default ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--rate", defaultValue = "10000", split = ",", description = "Selection events per second of the "
            + "latency run; several (e.g. 1000,2000): one run each, the pass-through's too (default ${DEFAULT-VALUE}).")
    List<Double> rates = new ArrayList<>();

    @Option(names = "--format", defaultValue = "text", description = "text, or json: the figures as one JSON object on "
            + "standard output (the text goes to standard error) (default ${DEFAULT-VALUE}).")
    String format;

    /** Where the text goes: standard output, or standard error when the figures go out as JSON. */
    private java.io.PrintStream out = System.out;

    @Option(names = "--latency-seconds", defaultValue = "20", description = "Length of the paced latency run (default ${DEFAULT-VALUE}).")
    int latencySeconds;

    @Option(names = "--warmup-requests", defaultValue = "100", description = "Synthetic requests sent through the "
            + "running predictor before anything is timed, so the JIT has compiled its hot code (default ${DEFAULT-VALUE}; 0: none).")
    int warmupRequests;

    @Option(names = "--heatmap-shards", description = "Override the predictor's --heatmap-shards (keys a model's MoE "
            + "layers are spread over; the layer count = one key per layer).")
    Integer heatmapShards;

    @Option(names = "--heatmap-publish-interval-ms", description = "Override the predictor's heatmap publication "
            + "interval (default: the predictor's, 5000 ms), e.g. to see what publication costs.")
    Long heatmapPublishIntervalMs;

    @Option(names = "--heatmap-snapshot-interval-ms", description = "Override how often whole heatmap tables go out "
            + "(default: the predictor's, 60000 ms; at most the publication interval: at every publication, as "
            + "before top-rows snapshots).")
    Long heatmapSnapshotIntervalMs;

    @Option(names = "--streams-config", paramLabel = "KEY=VALUE", description = "A Kafka Streams (or expertcast.*) "
            + "property of the predictor, e.g. expertcast.rocksdb.memtable.bytes=67108864 (repeatable).")
    Map<String, String> streamsConfig = new LinkedHashMap<>();

    @Option(names = "--warmup-rounds", defaultValue = "4", description = "At most this many warm-up rounds "
            + "(default ${DEFAULT-VALUE}); fewer once the JIT compiled for < 10 %% of a round.")
    int warmupRounds;

    /** A warm-up round in which the JIT compiled for less than this share of its wall time ends the warm-up. */
    private static final double JIT_QUIET = 0.10;

    @Option(names = "--seed", defaultValue = "1", description = "Generator seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--prefetch-delivery", defaultValue = "immediate", description = "immediate (a producer of "
            + "their own, at least once) or transactional (in the Streams transaction), as `expertcast predictor` "
            + "(default ${DEFAULT-VALUE}).")
    String prefetchDelivery;

    @Option(names = "--linger-ms", description = "Override the predictor's producer linger.ms (default: the Streams setting, 100 ms).")
    Integer lingerMs;

    @Option(names = "--stream-threads", defaultValue = "1", description = "Kafka Streams threads of the predictor (default ${DEFAULT-VALUE}, as `expertcast predictor`).")
    int streamThreads;

    @Option(names = "--commit-interval-ms", description = "Override the predictor's commit interval (default: StreamsSettings, 200 ms).")
    Integer commitIntervalMs;

    @Option(names = "--work-dir", description = "Broker data and Streams state (default: <repo>/work/bench/predictor, wiped first).")
    Path workDir;

    @Override
    public Integer call() throws Exception {
        if (!format.equals("text") && !format.equals("json")) {
            System.err.println("bench predictor: --format is text or json, got " + format);
            return 2;
        }
        boolean json = format.equals("json");
        out = json ? System.err : System.out;
        if (requests <= 0 || batch <= 0 || partitions <= 0 || rates.isEmpty()
                || rates.stream().anyMatch(r -> !(r > 0)) || latencySeconds <= 0 || streamThreads <= 0
                || warmupRequests < 0 || warmupRounds < 1
                || heatmapPublishIntervalMs != null && heatmapPublishIntervalMs <= 0
                || heatmapShards != null && heatmapShards <= 0
                || heatmapSnapshotIntervalMs != null && heatmapSnapshotIntervalMs <= 0) {
            System.err.println("bench predictor: --requests, --batch, --partitions, --rate, --latency-seconds and "
                    + "--stream-threads, --warmup-rounds and --heatmap-publish/snapshot-interval-ms must be positive, --warmup-requests "
                    + "at least 0");
            return 2;
        }
        Path work = workDir != null ? workDir : WorkDir.defaultPath().resolve("bench").resolve("predictor");
        LocalBroker broker = null;
        AtomicBoolean cleaned = new AtomicBoolean();
        KafkaStreams[] app = new KafkaStreams[1];
        LocalBroker[] started = new LocalBroker[1];
        PassThrough[] baseline = new PassThrough[1];
        Runnable cleanup = () -> {
            if (cleaned.compareAndSet(false, true)) {
                if (baseline[0] != null) {
                    baseline[0].close();
                }
                if (app[0] != null) {
                    app[0].close(Duration.ofSeconds(30));
                }
                if (started[0] != null) {
                    started[0].stop(Duration.ofSeconds(20));
                }
            }
        };
        Thread hook = new Thread(cleanup, "bench-predictor-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            client = kafka.clientProperties();
            String servers = kafka.givenBootstrap().orElse(null);
            if (servers == null) {
                broker = LocalBroker.withCurrentClasspath(work, port, controllerPort);
                broker.requireNotRunning(); // before the wipe: another bench's broker and state live there
                WorkDir.delete(work);
                out.printf("starting a KRaft broker on 127.0.0.1:%d (data in %s)%n", port, broker.dataDir());
                started[0] = broker; // stopped by its PID file, also if Ctrl-C comes during the start
                broker.start(Duration.ofSeconds(90));
                servers = broker.bootstrapServers();
            } else {
                WorkDir.delete(work.resolve("state"));
            }
            try (TopicAdmin topics = new TopicAdmin(servers, client, Duration.ofSeconds(30))) {
                topics.createAll(Topics.ALL, partitions, (short) 1);
            }
            try (Admin admin = Admin.create(withClient(client, AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers))) {
                if (endOffsets(admin, Topics.SELECTIONS.name()).values().stream().mapToLong(Long::longValue).sum() > 0) {
                    System.err.println("bench predictor: " + Topics.SELECTIONS.name() + " on " + servers
                            + " is not empty; run without --bootstrap to use a fresh broker");
                    return 2;
                }
                // Broker append times on both sides, so latency is measured on one clock.
                useLogAppendTime(admin, Topics.SELECTIONS.name(), Topics.PREFETCH.name());
            }
            String appId = "expertcast-bench-predictor-" + System.currentTimeMillis();
            PredictorSettings settings = PredictorSettings.defaults().withApplicationName(appId);
            if (heatmapShards != null) {
                settings = settings.withHeatmapShards(heatmapShards);
            }
            if (heatmapPublishIntervalMs != null) {
                settings = settings.withHeatmapPublishInterval(Duration.ofMillis(heatmapPublishIntervalMs));
            }
            if (heatmapSnapshotIntervalMs != null) {
                settings = settings.withHeatmapSnapshotInterval(Duration.ofMillis(heatmapSnapshotIntervalMs));
            }
            Map<String, Object> overrides = new HashMap<>();
            if (lingerMs != null) {
                overrides.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), lingerMs);
            }
            if (commitIntervalMs != null) {
                overrides.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
            }
            overrides.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, streamThreads);
            overrides.put(PrefetchDelivery.CONFIG, PrefetchDelivery.of(prefetchDelivery).label());
            overrides.putAll(client);
            overrides.putAll(streamsConfig);
            Properties base = StreamsSettings.base(appId, servers, work.resolve("state"), overrides);
            app[0] = PredictorApp.create(servers, work.resolve("state"), settings, overrides);
            KafkaStreams streams = app[0];
            streams.start();
            await(() -> streams.state() == KafkaStreams.State.RUNNING, Duration.ofSeconds(60), "predictor RUNNING");
            if (warmupRequests > 0) {
                // The JIT compiles the hot code of Kafka, Avro and the predictor for the first minute or so (its
                // compiler threads took ~60 % of a core through a 50 s run here): not what "sustained" means.
                // Rounds until the compilers are quiet: a round in which they compiled for less than
                // JIT_QUIET of its wall time (or --warmup-rounds of them).
                out.printf(Locale.ROOT, "warming up: rounds of %d other synthetic requests through the running "
                        + "predictor, until the JIT compiles for < %.0f %% of a round (at most %d rounds) ...%n",
                        warmupRequests, 100 * JIT_QUIET, warmupRounds);
                for (int round = 1; round <= warmupRounds; round++) {
                    long w0 = System.nanoTime();
                    long jit0 = CpuUse.jitMsNow();
                    Load warm = load(servers, renamed(new SyntheticSource(MODEL, warmupRequests, seed + 1 + round)
                            .requests(false, new ArrayList<>()), "warmup" + round + "/"));
                    try (Admin admin = Admin.create(withClient(client, AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers))) {
                        Map<TopicPartition, Long> end = endOffsets(admin, Topics.SELECTIONS.name());
                        await(() -> committed(admin, appId, end.keySet()).equals(end), Duration.ofMinutes(20),
                                "the predictor to commit the warm-up");
                    }
                    double seconds = (System.nanoTime() - w0) / 1e9;
                    double jitShare = jit0 < 0 ? 0 : (CpuUse.jitMsNow() - jit0) / 1e3 / seconds;
                    out.printf(Locale.ROOT, "  round %d: %d events committed in %.1f s (%.0f events/s); JIT "
                            + "compiled %.0f %% of the round%n", round, warm.events(), seconds, warm.events() / seconds,
                            100 * jitShare);
                    if (jitShare < JIT_QUIET) {
                        break;
                    }
                }
            }
            streams.pause();
            out.println("warming up the Streams pass-through baseline on the same records ...");
            baseline[0] = PassThrough.warm(servers, client, appId + "-pass-through", work.resolve("pass-through-state"),
                    overrides, partitions);

            out.printf(Locale.ROOT, "loading %d synthetic %s requests (%d MoE layers, top-%d), batch %d, "
                    + "%d partitions ...%n", requests, MODEL.id(), MODEL.numMoeLayers(), MODEL.topK(), batch, partitions);
            Load load = load(servers);
            Throughput plain = plainConsumer(servers);
            Throughput passThrough = baseline[0].timed(load);
            List<Latency> passThroughLatencies = new ArrayList<>();
            for (double rate : rates) {
                passThroughLatencies.add(latency(servers, baseline[0].appId, PassThroughBaseline.PACED_INPUT_TOPIC,
                        PassThroughBaseline.OUTPUT_TOPIC, rate, "pt" + passThroughLatencies.size()));
            }
            baseline[0].close(); // the cores go to the predictor
            CpuUse cpu0 = CpuUse.now(broker);
            long t0 = System.nanoTime();
            streams.resume();
            try (Admin admin = Admin.create(withClient(client, AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers))) {
                Map<TopicPartition, Long> end = endOffsets(admin, Topics.SELECTIONS.name());
                await(() -> committed(admin, appId, end.keySet()).equals(end), Duration.ofMinutes(20),
                        "the predictor to commit every loaded record");
            }
            double predictorSeconds = (System.nanoTime() - t0) / 1e9;
            // The heatmap aggregator counts these events after the request side has committed them (it reads
            // the lessons the request side's commits publish): its tail is part of their cost, so the CPU per
            // event waits for it, and the latency runs start with nothing of this phase left to count.
            double aggregatorTailSeconds = aggregatorCaughtUp(servers, appId);
            CpuUse cpu = CpuUse.now(broker).minus(cpu0);

            out.printf(Locale.ROOT, "%n== throughput (exactly_once_v2, %d stream thread(s), commit every %s ms, "
                    + "producer linger %s; heatmaps every %d ms, whole tables every %d ms)%n", streamThreads,
                    base.get(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG),
                    lingerMs == null ? "100 ms (Streams' default)" : lingerMs + " ms",
                    settings.heatmapPublishInterval().toMillis(),
                    settings.wholeTablesEveryPublication() ? settings.heatmapPublishInterval().toMillis()
                            : settings.heatmapSnapshotInterval().toMillis());
            out.printf(Locale.ROOT, "records   %d selection events: %d decode, %d prefill chunks; %.0f MB%n",
                    load.events(), load.decodeEvents(), load.events() - load.decodeEvents(), load.bytes() / 1e6);
            out.printf(Locale.ROOT, "  plain consumer, deserialize only   %9.0f events/s  %9.0f decode events/s  (%.2f s)%n",
                    plain.events() / plain.seconds(), plain.decodeEvents() / plain.seconds(), plain.seconds());
            double predictorDecodeRate = load.decodeEvents() / predictorSeconds;
            out.printf(Locale.ROOT, "  predictor, committed               %9.0f events/s  %9.0f decode events/s  (%.2f s)%n",
                    load.events() / predictorSeconds, predictorDecodeRate, predictorSeconds);
            out.printf(Locale.ROOT, "  Streams pass-through, same settings %8.0f events/s  %9.0f decode events/s  (%.2f s; "
                    + "%.0f us of stream-thread CPU per event)%n", passThrough.events() / passThrough.seconds(),
                    passThrough.decodeEvents() / passThrough.seconds(), passThrough.seconds(),
                    passThrough.streamThreadNs() / 1e3 / passThrough.events());
            out.printf(Locale.ROOT, "  heatmap aggregator caught up %.2f s after the request side's last commit "
                    + "(counted in the CPU per event below, not in the rate)%n", aggregatorTailSeconds);
            out.printf(Locale.ROOT, "  predictor / plain consumer         %9.2f   (targets: >= 20000 decode events/s, >= 0.5)%n",
                    plain.seconds() / predictorSeconds);
            out.printf(Locale.ROOT, "  predictor / Streams pass-through   %9.2f%n", passThrough.seconds() / predictorSeconds);
            out.printf(Locale.ROOT, "  CPU while the predictor ran (%d cores): stream thread(s) %.1f s (%.0f %% of the wall "
                    + "time), global thread %.1f s, JIT compilers %.1f s, RocksDB flush and compaction %s, this whole "
                    + "JVM %.1f s, broker %s; %.0f us of stream-thread CPU per event%n",
                    Runtime.getRuntime().availableProcessors(), cpu.streamThreadsNs() / 1e9,
                    100 * cpu.streamThreadsNs() / 1e9 / predictorSeconds / streamThreads, cpu.globalThreadNs() / 1e9,
                    cpu.jitMs() / 1e3, cpu.rocksDbNs() < 0 ? "not measured (no /proc)"
                            : String.format(Locale.ROOT, "%.1f s", cpu.rocksDbNs() / 1e9), cpu.processNs() / 1e9, cpu.brokerNs() < 0 ? "not measured (--bootstrap)"
                            : String.format(Locale.ROOT, "%.1f s", cpu.brokerNs() / 1e9),
                    cpu.streamThreadsNs() / 1e3 / load.events());

            // What of that CPU no plumbing adds to: the forecast and the counting alone, on this thread, on the
            // same requests (the predictor is idle meanwhile: it has caught up).
            ForecastFloor.Figures floor = new ForecastFloor(MODEL).measure(
                    new SyntheticSource(MODEL, 200, seed + 1000).requests(false, new ArrayList<>()),
                    toList(new SyntheticSource(MODEL, requests, seed).requests(false, new ArrayList<>())), batch,
                    FLOOR_EVENTS);
            double floorUs = floor.nextTokenUs() + floor.countingUs();
            out.printf(Locale.ROOT, "  floor of this design, measured alone on one thread (best of 5 rounds of %d decode "
                    + "events): next-token forecast %.0f us + heatmap counting %.0f us = %.0f us per decode event; with "
                    + "the pass-through's %.0f us, %.0f us against the predictor's %.0f us%n", FLOOR_EVENTS,
                    floor.nextTokenUs(), floor.countingUs(), floorUs,
                    passThrough.streamThreadNs() / 1e3 / passThrough.events(),
                    floorUs + passThrough.streamThreadNs() / 1e3 / passThrough.events(),
                    cpu.streamThreadsNs() / 1e3 / load.events());

            Map<String, Object> figures = new LinkedHashMap<>();
            figures.put("prefetch_delivery", PrefetchDelivery.of(prefetchDelivery).label());
            figures.put("predictor_decode_events_per_s", round(predictorDecodeRate));
            figures.put("pass_through_decode_events_per_s", round(passThrough.decodeEvents() / passThrough.seconds()));
            figures.put("ratio_to_pass_through", round2(passThrough.seconds() / predictorSeconds));
            figures.put("stream_thread_cpu_us_per_event", round(cpu.streamThreadsNs() / 1e3 / load.events()));
            figures.put("aggregator_tail_s", round2(aggregatorTailSeconds));
            figures.put("pass_through_stream_thread_cpu_us_per_event",
                    round(passThrough.streamThreadNs() / 1e3 / passThrough.events()));
            figures.put("floor_next_token_us_per_event", round(floor.nextTokenUs()));
            figures.put("floor_heatmap_counting_us_per_event", round(floor.countingUs()));
            List<Map<String, Object>> latencies = new ArrayList<>();
            for (int i = 0; i < rates.size(); i++) {
                double rate = rates.get(i);
                aggregatorCaughtUp(servers, appId); // a steady state: nothing of the last phase left to count
                Latency latency = latency(servers, appId, Topics.SELECTIONS.name(), Topics.PREFETCH.name(), rate,
                        "r" + i);
                Latency passThroughLatency = passThroughLatencies.get(i);
                out.printf(Locale.ROOT, "%n== latency at %.0f events/s for %d s (achieved %.0f events/s, %d decode events; "
                        + "prefetch delivery %s)%n", rate, latencySeconds, latency.achievedRate(), latency.decodeEvents(),
                        prefetchDelivery);
                printLatency("next-token", "NEXT_TOKEN: decode event of step t -> command for step t+1",
                        latency.nextToken(), latency.nextTokenVisible(), -1);
                printBySecond(latency.nextTokenBySecond());
                printLatency("Streams pass-through, same paced stream (achieved "
                        + String.format(Locale.ROOT, "%.0f events/s", passThroughLatency.achievedRate()) + ")",
                        "its command for step t+1, no prediction", passThroughLatency.nextToken(),
                        passThroughLatency.nextTokenVisible(), -1);
                printBySecond(passThroughLatency.nextTokenBySecond());
                printLatency("decode-phase", "DECODE_PHASE: first decode step -> plan of the decode phase",
                        latency.decodePhase(), latency.decodePhaseVisible(), latency.firstDecodeSteps());
                if (latency.unmatched() > 0) {
                    out.printf("  %d commands matched no event of this run%n", latency.unmatched());
                }
                Map<String, Object> l = new LinkedHashMap<>();
                l.put("rate", round(rate));
                l.put("achieved_rate", round(latency.achievedRate()));
                l.put("next_token_p50_ms", p(latency.nextToken(), 0.50));
                l.put("next_token_p99_ms", p(latency.nextToken(), 0.99));
                l.put("next_token_visible_p99_ms", p(latency.nextTokenVisible(), 0.99));
                List<Long> bySecond = new ArrayList<>();
                for (long[] w : latency.nextTokenBySecond()) {
                    bySecond.add(w.length == 0 ? null : percentile(w, 0.99));
                }
                l.put("next_token_p99_ms_by_second", bySecond);
                l.put("pass_through_next_token_p99_ms", p(passThroughLatency.nextToken(), 0.99));
                l.put("pass_through_next_token_visible_p99_ms", p(passThroughLatency.nextTokenVisible(), 0.99));
                l.put("decode_phase_p99_ms", p(latency.decodePhase(), 0.99));
                latencies.add(l);
            }
            figures.put("latency", latencies);

            out.printf(Locale.ROOT, "%n== memory at the end%n");
            System.gc();
            MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
            out.printf(Locale.ROOT, "  heap used after GC %8.1f MB  (committed %.1f MB, max %.1f MB; the bench's "
                    + "own clients share this JVM)%n", heap.getUsed() / 1e6, heap.getCommitted() / 1e6, heap.getMax() / 1e6);
            RocksMemory rocks = rocksMemory(streams);
            long cache = BoundedMemoryRocksDbConfig.usageBytes(BoundedMemoryRocksDbConfig.Budget.of(toMap(base)));
            out.printf(Locale.ROOT, "  RocksDB (Streams metrics) %d stores: memtables %.1f MB, block cache usage "
                    + "%.1f MB (shared; pinned %.1f MB), table readers %.1f MB%n", rocks.stores(), rocks.memtables() / 1e6,
                    rocks.blockCache() / 1e6, rocks.pinned() / 1e6, rocks.tableReaders() / 1e6);
            out.printf(Locale.ROOT, "  RocksDB shared cache (memtables charged to it) %.1f MB of a %.1f MB bound%n",
                    cache / 1e6, BoundedMemoryRocksDbConfig.Budget.of(toMap(base)).totalBytes() / 1e6);
            figures.put("heap_after_gc_mb", round(heap.getUsed() / 1e6));
            if (json) {
                System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter()
                        .writeValueAsString(figures));
            }
            return 0;
        } finally {
            cleanup.run();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // Ctrl-C: the hook runs the same cleanup.
            }
        }
    }

    private record Load(long events, long decodeEvents, long bytes) {
    }

    /** CPU time used so far: the predictor's stream threads, its global thread, this JVM, the bench's broker (-1: none). */
    private record CpuUse(long streamThreadsNs, long globalThreadNs, long processNs, long brokerNs, long jitMs,
                          long rocksDbNs) {
        static CpuUse now(LocalBroker broker) {
            // Client network threads ("kafka-...") carry the stream thread's name.
            long stream = threadCpuNs(name -> !name.startsWith("kafka-") && name.contains("-StreamThread-"));
            long global = threadCpuNs(name -> !name.startsWith("kafka-") && name.contains("-GlobalStreamThread"));
            long process = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                    .getProcessCpuTime();
            long brokerNs = -1;
            if (broker != null) {
                brokerNs = broker.runningPid().stream().boxed().findFirst().flatMap(ProcessHandle::of)
                        .flatMap(h -> h.info().totalCpuDuration()).map(Duration::toNanos).orElse(-1L);
            }
            return new CpuUse(stream, global, process, brokerNs, jitMsNow(), rocksDbThreadsNs());
        }

        /**
         * CPU of RocksDB's own flush and compaction threads (native, named rocksdb:high / rocksdb:low, so not
         * seen by the ThreadMXBean), from /proc/self/task on Linux; -1 elsewhere.
         */
        static long rocksDbThreadsNs() {
            java.nio.file.Path tasks = java.nio.file.Path.of("/proc/self/task");
            if (!java.nio.file.Files.isDirectory(tasks)) {
                return -1;
            }
            long ticks = 0;
            try (var dirs = java.nio.file.Files.list(tasks)) {
                for (java.nio.file.Path task : (Iterable<java.nio.file.Path>) dirs::iterator) {
                    try {
                        String stat = java.nio.file.Files.readString(task.resolve("stat"));
                        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                        if (name.startsWith("rocksdb:")) {
                            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                            ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime + stime
                        }
                    } catch (java.io.IOException | RuntimeException e) {
                        // a thread that ended meanwhile
                    }
                }
            } catch (java.io.IOException e) {
                return -1;
            }
            return ticks * 10_000_000L; // USER_HZ = 100 on Linux
        }

        /** The JIT compilers' accumulated time (the compiler threads' busy time, summed over threads). */
        static long jitMsNow() {
            var jit = ManagementFactory.getCompilationMXBean();
            return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : -1;
        }

        CpuUse minus(CpuUse earlier) {
            return new CpuUse(streamThreadsNs - earlier.streamThreadsNs, globalThreadNs - earlier.globalThreadNs,
                    processNs - earlier.processNs, brokerNs < 0 || earlier.brokerNs < 0 ? -1 : brokerNs - earlier.brokerNs,
                    jitMs < 0 || earlier.jitMs < 0 ? -1 : jitMs - earlier.jitMs,
                    rocksDbNs < 0 || earlier.rocksDbNs < 0 ? -1 : rocksDbNs - earlier.rocksDbNs);
        }
    }

    /** Produces the whole synthetic stream to moe.selections (the predictor is paused meanwhile). */
    private Load load(String servers) throws Exception {
        return load(servers, new SyntheticSource(MODEL, requests, seed).requests(false, new ArrayList<>()));
    }

    /** Produces the requests' selection events to moe.selections, in batches as a serving engine steps them. */
    private Load load(String servers, Iterator<RequestTrace> source) throws Exception {
        Serializer<SelectionEvent> values = Topics.SELECTIONS.valueSerde().serializer();
        long events = 0;
        long decode = 0;
        long bytes = 0;
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerConfig(servers, 20),
                new StringSerializer(), new ByteArraySerializer())) {
            BatchScheduler passes = new BatchScheduler(source, batch, PREFILL_CHUNK, System::currentTimeMillis);
            while (passes.hasNext()) {
                ScheduledPass pass = passes.next();
                for (SelectionEvent e : pass.selections()) {
                    byte[] value = values.serialize(Topics.SELECTIONS.name(), e);
                    producer.send(new ProducerRecord<>(Topics.SELECTIONS.name(), e.getRequestId(), value));
                    events++;
                    bytes += value.length;
                    if (e.getPhase() == Phase.DECODE) {
                        decode++;
                    }
                }
            }
            producer.flush();
        }
        return new Load(events, decode, bytes);
    }

    private record Throughput(long events, long decodeEvents, double seconds, long streamThreadNs) {
    }

    /**
     * The second baseline ({@link PassThroughBaseline}), its own Streams application with the predictor's
     * settings. {@link #warm} runs it over what {@code moe.selections} holds (the predictor's warm-up
     * records: its JIT warm-up) and pauses it; {@link #timed} then times it over the loaded records like the
     * predictor; then the paced stream runs through it, and it is closed before the predictor resumes, so
     * the two never share the cores.
     */
    private static final class PassThrough implements AutoCloseable {
        private final String appId;
        private final Admin admin;
        private final KafkaStreams streams;
        private boolean closed;

        private PassThrough(String appId, Admin admin, KafkaStreams streams) {
            this.appId = appId;
            this.admin = admin;
            this.streams = streams;
        }

        static PassThrough warm(String servers, Map<String, Object> client, String appId, Path state,
                                Map<String, Object> overrides, int partitions) throws Exception {
            Admin admin = Admin.create(withClient(client, AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers));
            KafkaStreams streams = null;
            try {
                recreate(admin, partitions, PassThroughBaseline.OUTPUT_TOPIC, PassThroughBaseline.PACED_INPUT_TOPIC);
                useLogAppendTime(admin, PassThroughBaseline.OUTPUT_TOPIC, PassThroughBaseline.PACED_INPUT_TOPIC);
                Map<TopicPartition, Long> end = endOffsets(admin, Topics.SELECTIONS.name());
                streams = new KafkaStreams(PassThroughBaseline.topology(),
                        StreamsSettings.base(appId, servers, state, overrides));
                KafkaStreams s = streams;
                s.start();
                await(() -> s.state() == KafkaStreams.State.RUNNING, Duration.ofSeconds(60), "pass-through RUNNING");
                await(() -> committed(admin, appId, end.keySet()).equals(end), Duration.ofMinutes(10),
                        "the pass-through to commit the warm-up records");
                s.pause();
                return new PassThrough(appId, admin, s);
            } catch (Exception | Error e) {
                if (streams != null) {
                    streams.close(Duration.ofSeconds(30));
                }
                admin.close();
                throw e;
            }
        }

        /**
         * The bench's own topics, empty: on a broker given by {@code --bootstrap} an earlier run's paced
         * events would otherwise be counted again.
         */
        private static void recreate(Admin admin, int partitions, String... topics) throws Exception {
            List<String> names = List.of(topics);
            Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            List<String> old = names.stream().filter(existing::contains).toList();
            if (!old.isEmpty()) {
                admin.deleteTopics(old).all().get(30, TimeUnit.SECONDS);
            }
            // Deletion completes asynchronously: until it has, creating the name again fails.
            Set<String> pending = new HashSet<>(names);
            await(() -> {
                for (String topic : List.copyOf(pending)) {
                    try {
                        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all()
                                .get(30, TimeUnit.SECONDS);
                        pending.remove(topic);
                    } catch (java.util.concurrent.ExecutionException e) {
                        if (!(e.getCause() instanceof org.apache.kafka.common.errors.TopicExistsException)) {
                            throw e;
                        }
                    }
                }
                return pending.isEmpty();
            }, Duration.ofSeconds(60), "the bench's own topics to be recreated");
        }

        Throughput timed(Load load) throws Exception {
            Map<TopicPartition, Long> end = endOffsets(admin, Topics.SELECTIONS.name());
            long cpu0 = streamThreadNs(appId);
            long t0 = System.nanoTime();
            streams.resume();
            await(() -> committed(admin, appId, end.keySet()).equals(end), Duration.ofMinutes(20),
                    "the pass-through to commit every loaded record");
            double seconds = (System.nanoTime() - t0) / 1e9;
            long cpu = streamThreadNs(appId) - cpu0;
            return new Throughput(load.events(), load.decodeEvents(), seconds, cpu);
        }

        /** Idempotent: also called by the bench's cleanup. */
        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                streams.close(Duration.ofSeconds(30));
                admin.close();
            }
        }
    }

    /** CPU of the stream threads of one application (their names start with its client id, the app id). */
    private static long streamThreadNs(String appId) {
        return threadCpuNs(name -> name.startsWith(appId + "-") && name.contains("-StreamThread-"));
    }

    /** CPU used so far by this JVM's live threads whose names {@code which} accepts. */
    private static long threadCpuNs(java.util.function.Predicate<String> which) {
        java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long ns = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (which.test(t.getName())) {
                ns += Math.max(0, threads.getThreadCpuTime(t.getId()));
            }
        }
        return ns;
    }

    /** The baseline: a plain consumer that reads every loaded record and deserializes it, nothing more. */
    private Throughput plainConsumer(String servers) {
        Deserializer<SelectionEvent> values = Topics.SELECTIONS.valueSerde().deserializer();
        Properties config = new Properties();
        config.putAll(client);
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        config.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2000);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> parts = consumer.partitionsFor(Topics.SELECTIONS.name()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts);
            long total = end.values().stream().mapToLong(Long::longValue).sum();
            long events = 0;
            long decode = 0;
            long start = System.nanoTime();
            while (events < total) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    SelectionEvent e = values.deserialize(r.topic(), r.value());
                    events++;
                    if (e.getPhase() == Phase.DECODE) {
                        decode++;
                    }
                }
            }
            return new Throughput(events, decode, (System.nanoTime() - start) / 1e9, 0);
        }
    }

    /** Per matched command, sorted: event append -> command append, and event append -> visible to read_committed. */
    /** {@code nextTokenBySecond}: per second of the run (by the event's append), its NEXT_TOKEN append-to-append latencies, sorted. */
    private record Latency(double achievedRate, long decodeEvents, long firstDecodeSteps, long[] nextToken, long[] nextTokenVisible,
                           long[] decodePhase, long[] decodePhaseVisible, long unmatched, long[][] nextTokenBySecond) {
    }

    /**
     * Paces a fresh synthetic stream into {@code input} through the running application {@code appId} (the
     * predictor, or the pass-through) and matches every prefetch command on {@code output} to the decode
     * event that caused it.
     */
    private Latency latency(String servers, String appId, String input, String output, double rate, String run)
            throws Exception {
        Map<String, Long> appended = new ConcurrentHashMap<>(); // requestId#step -> append time of the decode event
        List<long[]> received = new ArrayList<>(); // [scope, appendMs of command, visibleMs, eventKeyIndex]
        List<String> receivedKeys = new ArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        Deserializer<PrefetchCommand> commands = Topics.PREFETCH.valueSerde().deserializer();
        Properties cc = new Properties();
        cc.putAll(client);
        cc.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        cc.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cc, new ByteArrayDeserializer(),
                new ByteArrayDeserializer());
        List<TopicPartition> parts = consumer.partitionsFor(output).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        consumer.assign(parts);
        consumer.seekToEnd(parts);
        parts.forEach(consumer::position); // resolve the end now, before any command of this run exists
        Thread reader = new Thread(() -> {
            while (!stop.get()) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    long visible = System.currentTimeMillis();
                    PrefetchCommand c = commands.deserialize(r.topic(), r.value());
                    int eventStep = c.getScope() == PrefetchScope.NEXT_TOKEN ? c.getTargetStep() - 1 : c.getTargetStep();
                    synchronized (received) {
                        received.add(new long[] {c.getScope().ordinal(), r.timestamp(), visible});
                        receivedKeys.add(c.getRequestId() + "#" + eventStep);
                    }
                }
            }
        }, "bench-prefetch-reader");
        reader.start();

        Serializer<SelectionEvent> values = Topics.SELECTIONS.valueSerde().serializer();
        // Generated and serialized before the clock starts, so the pace is the broker's and the predictor's.
        List<Paced> events = paced(values, (long) Math.ceil(rate * latencySeconds), run);
        long sent = 0;
        long decode = 0;
        long firstSteps = 0;
        long start = System.nanoTime();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerConfig(servers, 0),
                new StringSerializer(), new ByteArraySerializer())) {
            start = System.nanoTime();
            for (Paced e : events) {
                long due = start + (long) (sent / rate * 1e9);
                long now = System.nanoTime();
                if (due > now) {
                    TimeUnit.NANOSECONDS.sleep(due - now);
                }
                String key = e.requestId() + "#" + e.step();
                boolean isDecode = e.step() > 0;
                producer.send(new ProducerRecord<>(input, e.requestId(), e.value()),
                        (meta, error) -> {
                            if (error == null && isDecode) {
                                appended.put(key, meta.timestamp());
                            }
                        });
                sent++;
                if (isDecode) {
                    decode++;
                    if (e.step() == 1) {
                        firstSteps++;
                    }
                }
            }
            producer.flush();
        }
        double achieved = sent / ((System.nanoTime() - start) / 1e9);
        // Drain: until the predictor has committed every event of this run (so every command it will send for
        // them is visible to read_committed), then 1 s more for the reader to poll the last ones; at most DRAIN
        // after the last send: a predictor that is still behind then leaves commands unseen, reported as missing.
        long drainEnd = System.nanoTime() + DRAIN.toNanos();
        try (Admin admin = Admin.create(withClient(client, AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers))) {
            Map<TopicPartition, Long> end = endOffsets(admin, input);
            while (System.nanoTime() < drainEnd && !committed(admin, appId, end.keySet()).equals(end)) {
                Thread.sleep(200);
            }
        }
        long quietEnd = Math.min(drainEnd, System.nanoTime() + TimeUnit.SECONDS.toNanos(1));
        while (System.nanoTime() < quietEnd) {
            Thread.sleep(100);
        }
        stop.set(true);
        reader.join();
        consumer.close();

        List<long[]> next = new ArrayList<>();
        List<long[]> phase = new ArrayList<>();
        long unmatched = 0;
        for (int i = 0; i < received.size(); i++) {
            long[] r = received.get(i);
            Long eventAppend = appended.get(receivedKeys.get(i));
            if (eventAppend == null) {
                unmatched++;
                continue;
            }
            long[] pair = {r[1] - eventAppend, r[2] - eventAppend, eventAppend};
            (r[0] == PrefetchScope.NEXT_TOKEN.ordinal() ? next : phase).add(pair);
        }
        return new Latency(achieved, decode, firstSteps, column(next, 0), column(next, 1), column(phase, 0),
                column(phase, 1), unmatched, bySecond(next, appended.values()));
    }

    /** Rows' latencies (column 0) grouped by the second of the run their event was appended in (column 2). */
    private static long[][] bySecond(List<long[]> rows, Collection<Long> eventAppends) {
        if (rows.isEmpty()) {
            return new long[0][];
        }
        long start = eventAppends.stream().mapToLong(Long::longValue).min().orElse(0);
        int seconds = (int) ((rows.stream().mapToLong(r -> r[2]).max().orElse(start) - start) / 1000) + 1;
        List<List<long[]>> windows = new ArrayList<>();
        for (int i = 0; i < seconds; i++) {
            windows.add(new ArrayList<>());
        }
        for (long[] r : rows) {
            windows.get((int) ((r[2] - start) / 1000)).add(r);
        }
        return windows.stream().map(w -> column(w, 0)).toArray(long[][]::new);
    }

    /** One line: the p99 of each second of the run (how long the opening burst holds the tail; "-": none). */
    private void printBySecond(long[][] bySecond) {
        if (bySecond.length < 2) {
            return;
        }
        StringBuilder line = new StringBuilder("    p99 by second of the run, ms:");
        for (long[] w : bySecond) {
            line.append(' ').append(w.length == 0 ? "-" : Long.toString(percentile(w, 0.99)));
        }
        out.println(line);
    }

    /** One serialized selection event of the paced run. */
    private record Paced(String requestId, int step, byte[] value) {
    }

    /** The first {@code count} events of a fresh synthetic stream (ids prefixed, so no id of the first run recurs). */
    private List<Paced> paced(Serializer<SelectionEvent> values, long count, String run) {
        int needed = (int) Math.ceil(count / 100.0) + batch;
        Iterator<RequestTrace> source = renamed(new SyntheticSource(MODEL, needed, seed + 1)
                .requests(false, new ArrayList<>()), "latency-" + run + "/");
        BatchScheduler passes = new BatchScheduler(source, batch, PREFILL_CHUNK, System::currentTimeMillis);
        List<Paced> events = new ArrayList<>();
        while (passes.hasNext() && events.size() < count) {
            for (SelectionEvent e : passes.next().selections()) {
                if (events.size() < count) {
                    events.add(new Paced(e.getRequestId(), e.getStep(), values.serialize(Topics.SELECTIONS.name(), e)));
                }
            }
        }
        return events;
    }

    /** A percentile, or null when nothing was measured. */
    private static Long p(long[] sorted, double q) {
        return sorted.length == 0 ? null : percentile(sorted, q);
    }

    private static long round(double v) {
        return Math.round(v);
    }

    private static double round2(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static long[] column(List<long[]> rows, int index) {
        return rows.stream().mapToLong(r -> r[index]).sorted().toArray();
    }

    /** {@code expected}: how many commands the events sent call for (-1: not known here). */
    private void printLatency(String kind, String label, long[] appendToAppend, long[] appendToVisible,
                                     long expected) {
        out.println("  " + kind + " (" + label + ")");
        if (appendToAppend.length == 0) {
            out.println("    no " + kind + " commands observed"
                    + (expected > 0 ? " (" + expected + " expected)" : ""));
            return;
        }
        if (expected > appendToAppend.length) {
            long missing = expected - appendToAppend.length;
            out.printf(Locale.ROOT, "    %d of %d expected commands not seen within %d s after the last send "
                    + "(the predictor is behind)%s%n", missing, expected, DRAIN.toSeconds(),
                    missing * 100 > expected ? ": the true p99 exceeds that wait" : "");
        }
        out.printf(Locale.ROOT, "    %d commands; event append -> command append:  p50 %4d ms  p99 %4d ms  max %4d ms%n",
                appendToAppend.length, percentile(appendToAppend, 0.50), percentile(appendToAppend, 0.99),
                appendToAppend[appendToAppend.length - 1]);
        out.printf(Locale.ROOT, "    %d commands; event append -> visible (read_committed): p50 %4d ms  p99 %4d ms  max %4d ms%n",
                appendToVisible.length, percentile(appendToVisible, 0.50), percentile(appendToVisible, 0.99),
                appendToVisible[appendToVisible.length - 1]);
    }

    private static long percentile(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    private static List<RequestTrace> toList(Iterator<RequestTrace> requests) {
        List<RequestTrace> all = new ArrayList<>();
        requests.forEachRemaining(all::add);
        return all;
    }

    private static Iterator<RequestTrace> renamed(Iterator<RequestTrace> source, String prefix) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return source.hasNext();
            }

            @Override
            public RequestTrace next() {
                RequestTrace r = source.next();
                return new RequestTrace(r.model(), prefix + r.requestId(), r.benchmark(), r.subject(), r.language(),
                        r.steps());
            }
        };
    }

    private record RocksMemory(int stores, double memtables, double blockCache, double pinned, double tableReaders) {
    }

    /**
     * RocksDB memory from the Streams metrics: memtables and table readers summed over stores; the block
     * cache is shared by all stores (each reports the same cache), so its largest report is the usage.
     */
    private static RocksMemory rocksMemory(KafkaStreams streams) {
        Set<String> stores = new HashSet<>();
        double memtables = 0;
        double readers = 0;
        double cache = 0;
        double pinned = 0;
        for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
            MetricName name = e.getKey();
            if (!name.group().equals("stream-state-metrics") || !(e.getValue().metricValue() instanceof Number n)) {
                continue;
            }
            String store = name.tags().get("rocksdb-state-id");
            if (store == null) {
                continue;
            }
            stores.add(name.tags().get("task-id") + "/" + store);
            switch (name.name()) {
                case "size-all-mem-tables" -> memtables += n.doubleValue();
                case "estimate-table-readers-mem" -> readers += n.doubleValue();
                case "block-cache-usage" -> cache = Math.max(cache, n.doubleValue());
                case "block-cache-pinned-usage" -> pinned = Math.max(pinned, n.doubleValue());
                default -> {
                }
            }
        }
        return new RocksMemory(stores.size(), memtables, cache, pinned, readers);
    }

    /** {@code client} (--config/--property) with {@code key} set to {@code servers}. */
    private static Map<String, Object> withClient(Map<String, Object> client, String key, String servers) {
        Map<String, Object> config = new HashMap<>(client);
        config.put(key, servers);
        return config;
    }

    private Map<String, Object> producerConfig(String servers, int lingerMs) {
        Map<String, Object> config = new HashMap<>(client);
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.LINGER_MS_CONFIG, lingerMs);
        config.put(ProducerConfig.BATCH_SIZE_CONFIG, 512 * 1024);
        config.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 * 1024 * 1024);
        return config;
    }

    private static void useLogAppendTime(Admin admin, String... topics) throws Exception {
        Map<ConfigResource, Collection<AlterConfigOp>> ops = new HashMap<>();
        for (String topic : topics) {
            ops.put(new ConfigResource(ConfigResource.Type.TOPIC, topic), List.of(new AlterConfigOp(
                    new ConfigEntry(TopicConfig.MESSAGE_TIMESTAMP_TYPE_CONFIG, "LogAppendTime"), AlterConfigOp.OpType.SET)));
        }
        admin.incrementalAlterConfigs(ops).all().get(30, TimeUnit.SECONDS);
    }

    private static Map<TopicPartition, Long> endOffsets(Admin admin, String topic) throws Exception {
        int count = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic)
                .partitions().size();
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        for (int p = 0; p < count; p++) {
            request.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        Map<TopicPartition, Long> end = new HashMap<>();
        admin.listOffsets(request).all().get(30, TimeUnit.SECONDS).forEach((tp, info) -> end.put(tp, info.offset()));
        return end;
    }

    private static Map<TopicPartition, Long> committed(Admin admin, String group, Set<TopicPartition> parts) {
        try {
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            Map<TopicPartition, Long> result = new HashMap<>();
            for (TopicPartition tp : parts) {
                OffsetAndMetadata o = offsets.get(tp);
                result.put(tp, o == null ? 0L : o.offset());
            }
            return result;
        } catch (Exception e) {
            return Map.of();
        }
    }

    private interface Condition {
        boolean holds() throws Exception;
    }

    /**
     * Seconds until the predictor's heatmap aggregator has committed every lesson on moe.heatmap-lessons as of
     * now. Its input is written in transactions, so a partition's end is one past its last commit marker, which
     * the consumer's position passes once it has read past the marker: committed >= end.
     */
    private double aggregatorCaughtUp(String servers, String appId) throws Exception {
        long t = System.nanoTime();
        try (Admin admin = Admin.create(withClient(client, AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers))) {
            Map<TopicPartition, Long> end = endOffsets(admin, Topics.HEATMAP_LESSONS.name());
            await(() -> {
                Map<TopicPartition, Long> done = committed(admin, appId, end.keySet());
                return !done.isEmpty() && end.entrySet().stream().allMatch(e -> done.get(e.getKey()) >= e.getValue());
            }, Duration.ofMinutes(2), "the heatmap aggregator to count every lesson");
        }
        return (System.nanoTime() - t) / 1e9;
    }

    private static void await(Condition condition, Duration timeout, String what) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    private static Map<String, Object> toMap(Properties p) {
        Map<String, Object> m = new HashMap<>();
        p.forEach((k, v) -> m.put(k.toString(), v));
        return m;
    }
}
