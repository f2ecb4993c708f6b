package io.expertcast.launcher.chaos;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.core.wafer.Policies;
import io.expertcast.local.LocalBroker;
import io.expertcast.local.LocalCluster;
import io.expertcast.local.TopicAdmin;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.replayer.ReplayOptions;
import io.expertcast.streams.pass.ScheduledPass;
import io.expertcast.replayer.TraceReplayer;
import io.expertcast.core.trace.source.TraceSource;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The fault suite behind {@code expertcast chaos}. Every scenario replays the traces under a source
 * id of its own, so its outputs are told apart from the others' on the same long-running services,
 * and is judged on committed records only: every plan of the source once (none lost, none twice),
 * and every pass and token of the source under each emulator policy.
 * <ul>
 *   <li>two-source: two replays of the same traces at once (same request and pass ids);</li>
 *   <li>replay: a resumable replay (its own JVM) killed -9 mid-run, then run again to its end;</li>
 *   <li>crash: one instance of each stage (one JVM) killed -9 mid-run; the other takes over;</li>
 *   <li>broker: one of the 3 brokers killed -9 mid-run (replication factor 3, min ISR 2);</li>
 *   <li>oversized: a ~1 MB record (500 KB key, 500 KB value) on moe.selections, every instance killed -9
 *       right after it and restarted: dead-lettered by each service (size + hash), none dies, the next
 *       replay exact;</li>
 *   <li>skew: one request carrying most of the traffic (its decode steps repeated until it has three times
 *       the others' selection events, a tag of its own):
 *       outputs exact, every other request forecast, no tag evicted;</li>
 *   <li>tag-cardinality: hundreds of distinct workload tags: the predictor's popularity and the
 *       allocator's profiles stay within the configured bound ({@link ChaosCommand#MAX_TAGS}), the
 *       evictions counted (tombstones on moe.heatmaps and on the profile changelog) and logged;</li>
 *   <li>flood: 10,000 malformed records: each dead-lettered by every service with its reason and
 *       source offset, the services healthy, each stage JVM's resident memory after a GC within 20 %
 *       of its level before, and the bytes of log written counted.</li>
 * </ul>
 */
final class ChaosSuite {
    private static final String MODEL = "llama4-maverick";
    private static final String PREFIX = "chaos-";

    /** The scenarios, in the order they run. */
    static final List<String> SCENARIOS = List.of("two-source", "replay", "crash", "broker", "oversized", "skew",
            "tag-cardinality", "flood");

    /**
     * Traces, how many requests, batch size and replay pace; distinct workload tags, requests beside the
     * hot one (skew), malformed records (flood), and which scenarios run.
     */
    record Settings(Path traces, int limit, int batch, double tokensPerSecond, Duration timeout, int tags,
                    int skewOthers, int flood, java.util.Set<String> scenarios) {
        /** CI's: skew and flood (a few minutes on 2 cores) only in the full run; FloodTest covers the flood in-JVM. */
        static Settings quick(Path traces) {
            return new Settings(traces, 4, 4, 60, Duration.ofMinutes(4), 100, 3, 0,
                    java.util.Set.of("two-source", "replay", "crash", "broker", "oversized", "tag-cardinality"));
        }

        static Settings full(Path traces) {
            return new Settings(traces, 0, 16, 150, Duration.ofMinutes(8), 500, 7, 10_000,
                    java.util.Set.copyOf(SCENARIOS));
        }

        Settings only(java.util.Set<String> names) {
            for (String n : names) {
                if (!SCENARIOS.contains(n)) {
                    throw new IllegalArgumentException("no scenario " + n + " (of " + SCENARIOS + ")");
                }
            }
            return new Settings(traces, limit, batch, tokensPerSecond, timeout, tags, skewOthers,
                    flood > 0 ? flood : 10_000, java.util.Set.copyOf(names));
        }
    }

    /** One line of the table. */
    record Row(String scenario, String expected, String measured, boolean passed) {
    }

    private record Expected(long passes, long tokens, long plans) {
        String describe() {
            return String.format(Locale.ROOT, "%d plans once; %d passes, %d tokens under each of %d policies", plans,
                    passes, tokens, Policies.ALL.size());
        }
    }

    private final Path work;
    private final int port;
    private final Settings settings;
    private final PrintWriter log;
    private final String classpath = System.getProperty("java.class.path");
    private final List<Process> children = new ArrayList<>();
    private final Process[] instances = new Process[2];
    private static final String[] NAMES = {"a", "b"};
    private final java.util.Map<String, Integer> starts = new java.util.HashMap<>();

    ChaosSuite(Path work, int port, Settings settings, PrintWriter log) {
        this.work = work.toAbsolutePath().normalize();
        this.port = port;
        this.settings = settings;
        this.log = log;
    }

    List<Row> run() throws Exception {
        deleteTree(work);
        Files.createDirectories(work);
        LocalCluster cluster = new LocalCluster(work, 3, port, port + 1, classpath, List.of("-Xms64m", "-Xmx384m"));
        List<Row> rows = new ArrayList<>();
        java.util.Set<String> on = settings.scenarios();
        try {
            say("starting a local cluster of 3 brokers at " + cluster.bootstrapServers());
            List<Long> brokerPids = cluster.start(Duration.ofMinutes(3));
            String bootstrap = cluster.bootstrapServers();
            try (TopicAdmin admin = new TopicAdmin(bootstrap, Duration.ofSeconds(60))) {
                admin.createAll(Topics.ALL, 4, (short) 3);
            }
            say("starting two instances of each stage");
            startInstance(bootstrap, 0);
            startInstance(bootstrap, 1);
            Expected expected = expected(sampleRequests(settings.limit()));
            try (SourceOutputs outputs = new SourceOutputs(bootstrap, PREFIX + "allocator")) {
                if (on.contains("two-source")) {
                    rows.add(twoSources(bootstrap, outputs, expected));
                }
                if (on.contains("replay")) {
                    rows.add(replayKilled(bootstrap, outputs, expected));
                }
                if (on.contains("crash")) {
                    Process b = instances[1];
                    rows.add(faultMidRun("crash", "one instance of each stage killed -9", bootstrap, outputs, expected,
                            () -> b.destroyForcibly()));
                }
                if (on.contains("broker")) {
                    long victim = brokerPids.get(2);
                    rows.add(faultMidRun("broker", "broker 3 of 3 killed -9", bootstrap, outputs, expected,
                            () -> ProcessHandle.of(victim).ifPresent(ProcessHandle::destroyForcibly)));
                }
                if (on.contains("oversized")) {
                    rows.add(oversized(bootstrap, outputs, expected));
                }
                if (on.contains("skew")) {
                    rows.add(skew(bootstrap, outputs));
                }
                if (on.contains("tag-cardinality")) {
                    rows.add(tagCardinality(bootstrap, outputs));
                }
                if (on.contains("flood")) {
                    rows.add(flood(bootstrap, outputs, expected));
                }
            }
        } finally {
            children.forEach(Process::destroyForcibly);
            cluster.stop(Duration.ofSeconds(20));
        }
        return rows;
    }

    /**
     * A record of ~1 MB on moe.selections (500 KB key, 500 KB value: the broker takes it; a letter carrying it
     * whole would not fit a request), then every instance killed -9 at once and started again, so a restart
     * may meet the record uncommitted: each service dead-letters it (size and hash), every instance runs on,
     * and the next replay is exact.
     */
    private Row oversized(String bootstrap, SourceOutputs outputs, Expected expected) throws Exception {
        say("oversized: a 500 KB key + 500 KB value on moe.selections, then every instance killed -9 and restarted");
        int size = 500_000;
        byte[] key = new byte[size];
        java.util.Arrays.fill(key, (byte) 'k');
        byte[] value = new byte[size];
        new java.util.Random(19).nextBytes(value);
        RecordMetadata md;
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap, 2 * 1024 * 1024)) {
            md = producer.send(new ProducerRecord<>(Topics.SELECTIONS.name(), key, value)).get();
        }
        for (Process p : instances) {
            if (p != null && p.isAlive()) {
                p.destroyForcibly().waitFor();
            }
        }
        long restarted = System.nanoTime();
        startInstance(bootstrap, 0);
        startInstance(bootstrap, 1);
        double restartS = (System.nanoTime() - restarted) / 1e9;
        java.util.Set<String> apps = new java.util.TreeSet<>();
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        boolean sized = true;
        while (apps.size() < 3 && System.nanoTime() < deadline) {
            outputs.poll(Duration.ofMillis(500));
            for (SourceOutputs.Letter l : outputs.selectionLetters()) {
                if (l.partition() == md.partition() && l.offset() == md.offset()) {
                    apps.add(l.application());
                    sized &= l.keySize() == size && l.valueSize() == size && !l.reason().isBlank();
                }
            }
        }
        String source = "chaos-oversized";
        replay(bootstrap, source, null, 0);
        String measured = await(outputs, source, expected);
        boolean alive = instances[0].isAlive() && instances[1].isAlive();
        return new Row("oversized", "dead-lettered by the 3 services (key and value sizes kept), every instance "
                + "restarted after kill -9 runs on; the next replay: " + expected.describe(),
                String.format(Locale.ROOT, "%d B record at %s-%d@%d: letters from %d of 3 services %s%s; restarted "
                        + "in %.0f s, instances %s; next replay: %s", md.serializedKeySize() + md.serializedValueSize(),
                        md.topic(), md.partition(), md.offset(), apps.size(), apps,
                        sized ? " (sizes 500000/500000, reason)" : " (SIZES OR REASON WRONG)", restartS,
                        alive ? "alive" : "DEAD", measured),
                apps.size() == 3 && sized && alive && exact(outputs, source, expected));
    }

    /**
     * One request carrying most of the traffic: the sample's first request with its decode steps repeated
     * (a tag of its own), beside a few ordinary ones. Outputs exact; every request forecast (the predictor
     * sent each at least one prefetch command); no tag evicted by the predictor or the allocator.
     */
    private Row skew(String bootstrap, SourceOutputs outputs) throws Exception {
        List<RequestTrace> base = sampleRequests(1 + settings.skewOthers());
        RequestTrace first = base.get(0);
        long otherEvents = 0;
        long otherTokens = 0;
        for (RequestTrace r : base.subList(1, base.size())) {
            otherEvents += r.numSteps();
            for (int s = 0; s < r.numSteps(); s++) {
                otherTokens += r.tokens(s);
            }
        }
        // Three times the others' selection events, within reason for 2 cores.
        int decode = (int) Math.min(3000, Math.max(first.numDecodeSteps(), 3 * otherEvents));
        List<int[]> steps = new ArrayList<>();
        steps.add(first.steps().get(0));
        for (int i = 0; i < decode; i++) {
            steps.add(first.steps().get(1 + i % Math.max(1, first.numDecodeSteps())));
        }
        RequestTrace hot = new RequestTrace(first.model(), first.requestId(), "hot", "hot", first.language(), steps);
        List<RequestTrace> requests = new ArrayList<>(base);
        requests.set(0, hot);
        long hotTokens = hot.prefillTokens() + decode;
        Expected expected = expected(requests);
        String source = "chaos-skew";
        say(String.format(Locale.ROOT, "skew: one request of %d steps (%d tokens) beside %d requests of %d steps "
                + "(%d tokens)", hot.numSteps(), hotTokens, base.size() - 1, otherEvents, otherTokens));
        outputs.poll(Duration.ofMillis(500));
        long heatEvictions = outputs.popularityEvictions();
        long profileEvictions = outputs.profileEvictions();
        replayList(bootstrap, source, requests, 0);
        String measured = await(outputs, source, expected);
        settle(outputs);
        int forecast = outputs.prefetchedRequests(source).size();
        long heat = outputs.popularityEvictions() - heatEvictions;
        long prof = outputs.profileEvictions() - profileEvictions;
        return new Row("skew", expected.describe() + "; the hot request " + pct(hot.numSteps(),
                hot.numSteps() + otherEvents) + " of the selection events; all " + requests.size()
                + " requests forecast; 0 tags evicted",
                String.format(Locale.ROOT, "%s; %d of %d requests forecast; tags evicted: %d (predictor), %d (allocator)",
                        measured, forecast, requests.size(), heat, prof),
                2 * hot.numSteps() > hot.numSteps() + otherEvents && exact(outputs, source, expected)
                        && forecast == requests.size() && heat == 0 && prof == 0);
    }

    /**
     * {@code settings.tags()} distinct workload tags (one short request each: 8 prefill tokens and a decode
     * step of a sample request): the per-tag state stays within the configured bound and the evictions are
     * counted on the topics and logged.
     */
    private Row tagCardinality(String bootstrap, SourceOutputs outputs) throws Exception {
        List<RequestTrace> base = sampleRequests(0);
        List<RequestTrace> requests = new ArrayList<>();
        for (int i = 0; i < settings.tags(); i++) {
            RequestTrace b = base.get(i % base.size());
            int perToken = b.model().numMoeLayers() * b.model().topK();
            List<int[]> steps = new ArrayList<>();
            steps.add(java.util.Arrays.copyOf(b.steps().get(0), Math.min(8, b.prefillTokens()) * perToken));
            if (b.numSteps() > 1) {
                steps.add(b.steps().get(1));
            }
            String tag = String.format(Locale.ROOT, "tag-%03d", i);
            requests.add(new RequestTrace(b.model(), b.model().id() + "/" + tag + "/s/" + i, tag, "s", "en", steps));
        }
        Expected expected = expected(requests);
        String source = "chaos-tags";
        say("tag-cardinality: " + settings.tags() + " requests with a workload tag each");
        outputs.poll(Duration.ofMillis(500));
        long heatBefore = outputs.popularityEvictions();
        long profBefore = outputs.profileEvictions();
        long logLinesBefore = logLines("workload tag(s) evicted");
        replayList(bootstrap, source, requests, 0);
        String measured = await(outputs, source, expected);
        settle(outputs);
        int bound = ChaosCommand.MAX_TAGS;
        int heatLive = outputs.maxLivePopularityTags(MODEL);
        int profLive = outputs.liveProfiles(MODEL);
        long heat = outputs.popularityEvictions() - heatBefore;
        long prof = outputs.profileEvictions() - profBefore;
        long logged = logLines("workload tag(s) evicted") - logLinesBefore;
        boolean passed = exact(outputs, source, expected) && heatLive <= bound && profLive <= bound
                && heat > 0 && prof >= settings.tags() - bound && logged > 0;
        return new Row("tag-cardinality", settings.tags() + " tags: at most " + bound + " kept per model and layer "
                + "(predictor popularity) and per model (allocator profiles), evictions counted and logged; "
                + expected.describe(),
                String.format(Locale.ROOT, "kept: %d popularity tags (busiest layer), %d profiles; evicted: %d "
                        + "popularity snapshots (tombstones), %d profiles (changelog tombstones); %d log line(s); %s",
                        heatLive, profLive, heat, prof, logged, measured), passed);
    }

    /**
     * {@code settings.flood()} malformed records (undecodable bytes, an unknown model, expert ids out of
     * range): each dead-lettered by every service with its reason and source offset; every stage JVM alive,
     * its resident memory after a GC within 20 % of its level before; the bytes of log written counted; the
     * next replay exact.
     */
    private Row flood(String bootstrap, SourceOutputs outputs, Expected expected) throws Exception {
        int n = settings.flood();
        say("flood: " + n + " malformed records on moe.selections");
        long[] rssBefore = rssAfterGc();
        long logBefore = logBytes();
        ModelShape model = ModelCatalog.standard().byId(MODEL).orElseThrow();
        java.util.Random random = new java.util.Random(19);
        java.util.Set<String> sent = new java.util.HashSet<>();
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap, 1024 * 1024)) {
            List<java.util.concurrent.Future<RecordMetadata>> futures = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                futures.add(producer.send(malformed(i, random, model)));
            }
            producer.flush();
            for (var f : futures) {
                RecordMetadata md = f.get();
                sent.add(md.partition() + "@" + md.offset());
            }
        }
        String[] apps = {PREFIX + "predictor", PREFIX + "allocator", PREFIX + "emulator"};
        java.util.Map<String, java.util.Set<String>> covered = new java.util.TreeMap<>();
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        int read = 0;
        boolean reasons = true;
        while (covered.values().stream().mapToInt(java.util.Set::size).sum() < apps.length * n
                && System.nanoTime() < deadline) {
            outputs.poll(Duration.ofMillis(500));
            List<SourceOutputs.Letter> letters = outputs.selectionLetters();
            for (; read < letters.size(); read++) {
                SourceOutputs.Letter l = letters.get(read);
                String at = l.partition() + "@" + l.offset();
                if (sent.contains(at)) {
                    covered.computeIfAbsent(l.application(), a -> new java.util.HashSet<>()).add(at);
                    reasons &= l.reason() != null && !l.reason().isBlank();
                }
            }
        }
        // The rejection log's summary lines come once per interval (30 s).
        Thread.sleep(35_000);
        long logged = logBytes() - logBefore;
        long[] rssAfter = rssAfterGc();
        boolean memory = true;
        StringBuilder rss = new StringBuilder();
        for (int i = 0; i < rssBefore.length; i++) {
            memory &= rssAfter[i] <= rssBefore[i] * 1.2;
            rss.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%s %d -> %d MB", NAMES[i],
                    rssBefore[i] >> 20, rssAfter[i] >> 20));
        }
        StringBuilder letters = new StringBuilder();
        boolean all = true;
        for (String app : apps) {
            int c = covered.getOrDefault(app, java.util.Set.of()).size();
            all &= c == n;
            letters.append(letters.length() == 0 ? "" : ", ").append(app.substring(PREFIX.length())).append(' ').append(c);
        }
        String source = "chaos-flood";
        replay(bootstrap, source, null, 0);
        String measured = await(outputs, source, expected);
        boolean alive = instances[0].isAlive() && (instances[1] == null || instances[1].isAlive());
        return new Row("flood", n + " malformed records each dead-lettered by the 3 services (reason, source offset); "
                + "instances alive; resident memory after GC within 20 % of before; log bytes counted (< 1 MB); "
                + "the next replay: " + expected.describe(),
                String.format(Locale.ROOT, "letters: %s%s; instances %s; RSS after GC (each JVM: the 3 services) %s; "
                        + "%d bytes of log written; next replay: %s", letters, reasons ? "" : " (A REASON MISSING)",
                        alive ? "alive" : "DEAD", rss, logged, measured),
                all && reasons && alive && memory && logged < 1024 * 1024 && exact(outputs, source, expected));
    }

    /** Malformed record i: undecodable bytes, an unknown model, or expert ids out of range (a third each). */
    private static ProducerRecord<byte[], byte[]> malformed(int i, java.util.Random random, ModelShape model) {
        byte[] key = ("chaos-bad/bad-" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (i % 3 == 0) {
            byte[] garbage = new byte[200 + random.nextInt(400)];
            random.nextBytes(garbage);
            return new ProducerRecord<>(Topics.SELECTIONS.name(), key, garbage);
        }
        int ids = model.numMoeLayers() * model.topK();
        java.nio.ByteBuffer packed = java.nio.ByteBuffer.allocate(2 * ids).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int j = 0; j < ids; j++) {
            packed.putShort((short) (i % 3 == 1 ? j % model.numExperts() : model.numExperts() + i % 1000));
        }
        SelectionEvent e = SelectionEvent.newBuilder().setModel(i % 3 == 1 ? "no-such-model-" + i : MODEL)
                .setRequestId("bad-" + i).setStep(1).setPhase(Phase.DECODE).setTokenOffset(0).setTokenCount(1)
                .setPassId(i).setBatchTokenOffset(0).setNumMoeLayers(model.numMoeLayers()).setTopK(model.topK())
                .setExpertIds(packed.flip()).setEventTimeMs(System.currentTimeMillis()).setSource("chaos-bad").build();
        return new ProducerRecord<>(Topics.SELECTIONS.name(), key,
                Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(), e));
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap, int maxRequestBytes) {
        java.util.Properties p = new java.util.Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, maxRequestBytes);
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** Resident memory (bytes) of each stage JVM after two full GCs (jcmd GC.run); 0 for one not running. */
    private long[] rssAfterGc() throws Exception {
        long[] rss = new long[instances.length];
        for (int i = 0; i < instances.length; i++) {
            Process p = instances[i];
            if (p == null || !p.isAlive()) {
                continue;
            }
            for (int gc = 0; gc < 2; gc++) {
                new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                        Long.toString(p.pid()), "GC.run").redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
                Thread.sleep(1000);
            }
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss[i] = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        }
        return rss;
    }

    /** Bytes the stage JVMs have written to their logs (stdout and stderr files, every start). */
    private long logBytes() throws IOException {
        long total = 0;
        try (Stream<Path> files = Files.list(work)) {
            for (Path f : (Iterable<Path>) files.filter(f -> f.getFileName().toString().startsWith("stages-")
                    && Files.isRegularFile(f))::iterator) {
                total += Files.size(f);
            }
        }
        return total;
    }

    /** Lines of the stage JVMs' logs that contain {@code text}. */
    private long logLines(String text) throws IOException {
        long total = 0;
        try (Stream<Path> files = Files.list(work)) {
            for (Path f : (Iterable<Path>) files.filter(f -> f.getFileName().toString().startsWith("stages-")
                    && f.getFileName().toString().endsWith(".log"))::iterator) {
                try (Stream<String> lines = Files.lines(f, java.nio.charset.StandardCharsets.ISO_8859_1)) {
                    total += lines.filter(l -> l.contains(text)).count();
                }
            }
        }
        return total;
    }

    /** Polls until the tag-state tombstones have not changed for 8 s (popularity is published every 5 s), at most 60 s. */
    private static void settle(SourceOutputs outputs) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        long quietSince = System.nanoTime();
        long last = -1;
        while (System.nanoTime() < deadline && System.nanoTime() - quietSince < Duration.ofSeconds(8).toNanos()) {
            outputs.poll(Duration.ofMillis(500));
            long now = outputs.popularityEvictions() * 1_000_003L + outputs.profileEvictions();
            if (now != last) {
                last = now;
                quietSince = System.nanoTime();
            }
        }
    }

    private static String pct(long part, long whole) {
        return String.format(Locale.ROOT, "%.0f %%", 100.0 * part / whole);
    }

    private Row twoSources(String bootstrap, SourceOutputs outputs, Expected expected) throws Exception {
        say("two-source: replaying the traces twice at once");
        long started = System.nanoTime();
        CompletableFuture<?> a = CompletableFuture.runAsync(() -> replay(bootstrap, "chaos-2a", null, 0));
        CompletableFuture<?> b = CompletableFuture.runAsync(() -> replay(bootstrap, "chaos-2b", null, 0));
        CompletableFuture.allOf(a, b).get();
        String ma = await(outputs, "chaos-2a", expected);
        String mb = await(outputs, "chaos-2b", expected);
        return new Row("two-source", "each source: " + expected.describe(), "a: " + ma + "; b: " + mb
                + String.format(Locale.ROOT, " (%.0f s)", (System.nanoTime() - started) / 1e9),
                exact(outputs, "chaos-2a", expected) && exact(outputs, "chaos-2b", expected));
    }

    private Row replayKilled(String bootstrap, SourceOutputs outputs, Expected expected) throws Exception {
        say("replay: a resumable replay in its own JVM, killed -9 mid-run, then run again");
        String id = "chaos-replay";
        List<String> command = new ArrayList<>(List.of("replay", "--bootstrap", bootstrap, "--traces",
                settings.traces().toString(), "--batch", Integer.toString(settings.batch()), "--rate",
                Double.toString(settings.tokensPerSecond()), "--replay-id", id, "--checkpoint-passes", "5",
                "--skip-bad"));
        if (settings.limit() > 0) {
            command.addAll(List.of("--limit", Integer.toString(settings.limit())));
        }
        Path stdout = work.resolve("replay.out");
        Process replay = launch(command, stdout, work.resolve("replay.log"));
        // Mid-run: once a quarter of the source's plans are out (so some transactions were committed).
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        while (outputs.plans(id) < expected.plans() / 4 && replay.isAlive() && System.nanoTime() < deadline) {
            outputs.poll(Duration.ofMillis(500));
        }
        boolean midRun = replay.isAlive();
        long before = outputs.plans(id);
        replay.destroyForcibly().waitFor();
        replay(bootstrap, id, id, 0);
        String measured = await(outputs, id, expected);
        boolean passed = midRun && exact(outputs, id, expected);
        return new Row("replay", expected.describe(), "killed at " + before + " plans" + (midRun ? "" : " (too late)")
                + ", resumed: " + measured, passed);
    }

    private Row faultMidRun(String name, String fault, String bootstrap, SourceOutputs outputs, Expected expected,
                            Runnable kill) throws Exception {
        say(name + ": " + fault + " while a replay runs");
        String source = "chaos-" + name;
        CompletableFuture<?> replay = CompletableFuture.runAsync(() -> replay(bootstrap, source, null,
                settings.tokensPerSecond()));
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        while (outputs.plans(source) < expected.plans() / 5 && System.nanoTime() < deadline) {
            outputs.poll(Duration.ofMillis(500));
        }
        long before = outputs.plans(source);
        boolean midRun = before < expected.plans();
        long killedAt = System.nanoTime();
        kill.run();
        replay.get();
        String measured = await(outputs, source, expected);
        double after = (System.nanoTime() - killedAt) / 1e9;
        return new Row(name, expected.describe() + "; " + fault,
                String.format(Locale.ROOT, "killed at %d plans; %s; complete %.1f s after the kill", before, measured, after),
                midRun && exact(outputs, source, expected));
    }

    /** Polls until the source's outputs are complete (or the timeout), then a few more times to see doubles. */
    private String await(SourceOutputs outputs, String source, Expected expected) {
        long deadline = System.nanoTime() + settings.timeout().toNanos();
        while (!complete(outputs, source, expected) && System.nanoTime() < deadline) {
            outputs.poll(Duration.ofMillis(500));
        }
        for (int i = 0; i < 4; i++) {
            outputs.poll(Duration.ofMillis(500));
        }
        java.util.TreeSet<Long> passes = new java.util.TreeSet<>();
        java.util.TreeSet<Long> tokens = new java.util.TreeSet<>();
        for (String policy : Policies.ALL) {
            WaferMetrics m = outputs.totals(MODEL, source, policy);
            passes.add(m == null ? 0 : m.getPasses());
            tokens.add(m == null ? 0 : m.getTokens());
        }
        return String.format(Locale.ROOT, "%d/%d plans (%d records), passes %s, tokens %s under the %d policies",
                outputs.plans(source), expected.plans(), outputs.planRecords(source), range(passes), range(tokens),
                Policies.ALL.size());
    }

    private static String range(java.util.TreeSet<Long> values) {
        return values.size() == 1 ? Long.toString(values.first()) : values.first() + ".." + values.last();
    }

    private static boolean complete(SourceOutputs outputs, String source, Expected expected) {
        if (outputs.plans(source) < expected.plans()) {
            return false;
        }
        for (String policy : Policies.ALL) {
            WaferMetrics m = outputs.totals(MODEL, source, policy);
            if (m == null || m.getPasses() < expected.passes()) {
                return false;
            }
        }
        return true;
    }

    private static boolean exact(SourceOutputs outputs, String source, Expected expected) {
        if (outputs.plans(source) != expected.plans() || outputs.planRecords(source) != expected.plans()) {
            return false;
        }
        for (String policy : Policies.ALL) {
            WaferMetrics m = outputs.totals(MODEL, source, policy);
            if (m == null || m.getPasses() != expected.passes() || m.getTokens() != expected.tokens()) {
                return false;
            }
        }
        return true;
    }

    private void replay(String bootstrap, String source, String replayId, double rate) {
        TraceReplayer.replay(new ReplayOptions(bootstrap, settings.traces(), settings.batch(), rate, settings.limit(),
                true, 256, replayId, 5, source), null);
    }

    /** Replays {@code requests} (not the trace folder) under {@code source}. */
    private void replayList(String bootstrap, String source, List<RequestTrace> requests, double rate) {
        TraceSource list = TraceSource.of(requests, source + " (" + requests.size() + " requests)");
        TraceReplayer.replay(new ReplayOptions(bootstrap, settings.traces(), settings.batch(), rate, 0, true, 256,
                null, 5, source), List.of(list), null);
    }

    /** Starts stage instance {@code i} ("a" or "b"), again after a kill: the same state directory. */
    private void startInstance(String bootstrap, int i) throws Exception {
        instances[i] = startStages(bootstrap, NAMES[i], "127.0.0.1:" + (i + 1));
    }

    private Process startStages(String bootstrap, String name, String instance) throws Exception {
        int start = starts.merge(name, 1, Integer::sum);
        String run = start == 1 ? name : name + "-" + start;
        Path stdout = work.resolve("stages-" + run + ".out");
        Process p = launch(List.of("chaos", "stages", "--bootstrap", bootstrap, "--state-dir",
                work.resolve("stages-" + name).toString(), "--prefix", PREFIX, "--instance", instance), stdout,
                work.resolve("stages-" + run + ".log"));
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (!(Files.exists(stdout) && Files.readString(stdout).contains("RUNNING"))) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("stage instance " + name + " did not start; see "
                        + work.resolve("stages-" + run + ".log"));
            }
            Thread.sleep(200);
        }
        return p;
    }

    /** The launcher's main in a JVM of its own, with this JVM's classpath. */
    private Process launch(List<String> args, Path stdout, Path stderr) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx512m", "io.expertcast.launcher.Main"));
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(stdout.toFile())
                .redirectError(stderr.toFile());
        builder.environment().put("CLASSPATH", classpath);
        Process p = builder.start();
        children.add(p);
        return p;
    }

    /** The sample's first {@code limit} requests (all: {@code limit <= 0}), in replay order. */
    private List<RequestTrace> sampleRequests(int limit) {
        List<RequestTrace> requests = new ArrayList<>();
        Iterator<RequestTrace> it = TraceDataset.open(settings.traces(), ModelCatalog.standard())
                .requests(true, new ArrayList<>());
        while (it.hasNext() && (limit <= 0 || requests.size() < limit)) {
            requests.add(it.next());
        }
        return requests;
    }

    /** Passes, tokens and plans of {@code requests} replayed in batches of the settings' size. */
    private Expected expected(List<RequestTrace> requests) {
        long passes = 0;
        long tokens = 0;
        BatchScheduler scheduler = new BatchScheduler(requests.iterator(), settings.batch(), 256, () -> 0L);
        while (scheduler.hasNext()) {
            ScheduledPass p = scheduler.next();
            passes++;
            tokens += p.pass().getTotalTokens();
        }
        return new Expected(passes, tokens, passes * ModelCatalog.standard().byId(MODEL).orElseThrow().numMoeLayers());
    }

    private void say(String line) {
        log.println("chaos: " + line);
        log.flush();
    }

    /** The table: scenario, expected, measured, verdict. */
    static String table(List<Row> rows) {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "%-15s | %s | %s | %s%n", "scenario",
                "expected", "measured", "verdict"));
        for (Row r : rows) {
            s.append(String.format(Locale.ROOT, "%-15s | %s | %s | %s%n", r.scenario(), r.expected(), r.measured(),
                    r.passed() ? "pass" : "FAIL"));
        }
        return s.toString();
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        // A cluster of a previous run still up would lose its data under it: refuse.
        new LocalCluster(dir, 3, 1, 2, "", List.of()).nodes().forEach(LocalBroker::requireNotRunning);
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
