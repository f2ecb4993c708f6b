package io.expertcast.attach.sglang;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.sglang.LogicalCounts;
import io.expertcast.core.sglang.PerTokenSplitter;
import io.expertcast.core.sglang.RecorderDump;
import io.expertcast.schemas.AttachCheckpoint;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.ExpertLoad;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code attach sglang}: keeps an SGLang server's expert distribution recorder running, dumps it every
 * interval, and publishes each new dump exactly once: per_token windows as SelectionEvents and
 * ForwardPasses (through {@link LiveSplitter}, one per data-parallel rank), every window's counts as
 * an {@link ExpertLoad}, a file that is not a readable recorder dump as a dead letter. Each window
 * goes out in one Kafka transaction with the {@link AttachCheckpoint} that lists it, so a restarted
 * attach neither loses nor repeats one. A server that is down or answers with an error is retried
 * with a doubling backoff and reported; once it answers again the recorder is started anew (a
 * restarted server is not recording), which ends every request the splitter had open: what the
 * server runs after the restart cannot continue what it ran before.
 */
public final class SglangAttach implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Looks at an unreadable settled file before it is given up as a dead letter. */
    static final int UNREADABLE_LOOKS = 3;

    /**
     * @param url        the SGLang server
     * @param dumpDir    its SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR, as this machine sees it
     * @param mode       the recorder mode the server was started with (per_token, per_pass, stat)
     * @param intervalMs time between dumps
     * @param sourceId   this server's id in request ids, load keys and the checkpoint
     * @param model      catalog id or shape spec; null: inferred from the first per_token dump
     * @param settleMs   a file is taken when its size and time did not change over this long
     * @param maxBackoffMs the longest wait between retries of a failing server
     * @param deletePublished delete a dump file once its window is committed (the folder would grow without end)
     */
    public record Options(String url, Path dumpDir, String mode, long intervalMs, String bootstrap, String sourceId,
                          String model, long settleMs, long maxBackoffMs, boolean deletePublished,
                          Map<String, Object> clientProperties) {
        public Options {
            clientProperties = Map.copyOf(clientProperties);
        }

        public Options(String url, Path dumpDir, String mode, long intervalMs, String bootstrap, String sourceId,
                       String model, long settleMs, long maxBackoffMs, boolean deletePublished) {
            this(url, dumpDir, mode, intervalMs, bootstrap, sourceId, model, settleMs, maxBackoffMs, deletePublished,
                    Map.of());
        }

        public Options(String url, Path dumpDir, String mode, long intervalMs, String bootstrap, String sourceId,
                       String model, long settleMs, long maxBackoffMs) {
            this(url, dumpDir, mode, intervalMs, bootstrap, sourceId, model, settleMs, maxBackoffMs, false);
        }

        /** The same, the Kafka clients given these properties too (--config/--property: TLS, SASL, ...). */
        public Options withClientProperties(Map<String, Object> value) {
            return new Options(url, dumpDir, mode, intervalMs, bootstrap, sourceId, model, settleMs, maxBackoffMs,
                    deletePublished, value);
        }
    }

    /** Counters since this attach started. */
    public record Stats(long windows, long passes, long selections, long loads, long deadLetters, long serverErrors,
                        long recorderStarts) {
    }

    private final Options options;
    private final RecorderClient client;
    private final DumpFolder folder;
    private final KafkaProducer<byte[], byte[]> producer;
    private final PrintStream out;
    private final PrintStream err;
    private ModelShape model;
    private final Map<Integer, LiveSplitter> splitters = new TreeMap<>();
    private final Set<String> consumed = new LinkedHashSet<>();
    private long windows;
    private final Map<String, Integer> unreadableLooks = new HashMap<>();
    private final Map<Long, String> recentPerToken = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, String> eldest) {
            return size() > 64;
        }
    };
    private long passes;
    private long selections;
    private long loads;
    private long deadLetters;
    private long serverErrors;
    private long recorderStarts;

    public SglangAttach(Options options, PrintStream out, PrintStream err) throws IOException {
        String problem = Topics.sourceProblem(options.sourceId());
        if (problem != null) {
            throw new IllegalArgumentException("--source-id: " + problem);
        }
        this.options = options;
        this.out = out;
        this.err = err;
        this.client = new RecorderClient(options.url(), Duration.ofSeconds(60));
        this.folder = new DumpFolder(options.dumpDir(), options.settleMs());
        AttachCheckpoint last = AttachCheckpoints.read(options.bootstrap(), options.clientProperties(), options.sourceId());
        if (options.model() != null) {
            model = options.model().contains(":") ? ModelCatalog.parseShape(options.model())
                    : ModelCatalog.standard().byId(options.model())
                    .orElseThrow(() -> new IllegalArgumentException("unknown model " + options.model()));
        }
        if (last != null) {
            ModelShape was = last.getModel().isEmpty() ? null : ModelCatalog.parseShape(last.getModel());
            if (model != null && was != null && !spec(model).equals(spec(was))) {
                throw new IllegalArgumentException("source " + options.sourceId() + " was attached with model "
                        + last.getModel() + ", not " + spec(model) + "; use another --source-id");
            }
            if (was != null) {
                model = was;
            }
            restore(last);
            out.println("attach " + options.sourceId() + ": resuming after " + last.getWindows() + " windows ("
                    + last.getConsumedDumps().size() + " dumps in the folder already published)");
        }
        Properties p = new Properties();
        p.putAll(options.clientProperties()); // TLS, SASL; the settings below are what exactly-once publishing needs
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrap());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 8 * 1024 * 1024);
        // One transactional id per source: a restarted attach fences (and so aborts) what the last one left open.
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "expertcast-attach-" + options.sourceId());
        producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        producer.initTransactions();
    }

    public Stats stats() {
        return new Stats(windows, passes, selections, loads, deadLetters, serverErrors, recorderStarts);
    }

    /**
     * The service: start the recorder, then dump and publish every interval until {@code stop} is
     * set; a failing server is retried with backoff. On stop: a last dump, and the recorder stopped.
     */
    public void run(AtomicBoolean stop) {
        boolean needStart = true;
        long backoff = Math.min(500, options.maxBackoffMs());
        while (!stop.get()) {
            try {
                if (needStart) {
                    startRecorder();
                    needStart = false;
                    backoff = Math.min(500, options.maxBackoffMs());
                } else {
                    sleep(options.intervalMs(), stop);
                    if (stop.get()) {
                        break;
                    }
                    client.dump();
                }
                publishSettled();
            } catch (IOException e) {
                serverErrors++;
                needStart = true;
                err.println("attach " + options.sourceId() + ": " + e.getMessage() + "; retrying in " + backoff + " ms");
                try {
                    publishSettledQuietly(); // what the server wrote before it failed is still published
                } catch (KafkaException k) {
                    err.println("attach " + options.sourceId() + ": Kafka: " + k.getMessage());
                }
                sleep(backoff, stop);
                backoff = Math.min(backoff * 2, options.maxBackoffMs());
            } catch (KafkaException e) {
                // the window stays unpublished (state restored) and is sent again on the next try
                err.println("attach " + options.sourceId() + ": Kafka: " + e.getMessage() + "; retrying in " + backoff
                        + " ms");
                sleep(backoff, stop);
                backoff = Math.min(backoff * 2, options.maxBackoffMs());
            }
        }
        shutdown(!needStart);
    }

    /**
     * Starts the recorder. A dump first keeps what a previous attach left recording; what it and the
     * folder hold is published; then the start (which resets the server's buffer) ends every open request.
     */
    public void startRecorder() throws IOException {
        client.dump();
        publishSettled();
        client.start();
        recorderStarts++;
        out.println("attach " + options.sourceId() + ": recording on " + options.url());
        closeOpenRequests("the recorder was started");
    }

    /** One interval's work: dump and publish what settled. */
    public int dumpAndPublish() throws IOException {
        client.dump();
        return publishSettled();
    }

    /** Stops: a last dump published and the recorder stopped (when the server answers), open requests ended. */
    public void shutdown(boolean serverUp) {
        if (serverUp) {
            try {
                client.dump();
                publishSettled();
                client.stop();
                out.println("attach " + options.sourceId() + ": recorder stopped on " + options.url());
            } catch (IOException e) {
                err.println("attach " + options.sourceId() + ": could not stop the recorder: " + e.getMessage());
            }
        }
        publishSettledQuietly();
        try {
            closeOpenRequests("attach stopped");
        } catch (KafkaException e) {
            err.println("attach " + options.sourceId() + ": could not publish the open requests' ends: " + e.getMessage());
        }
    }

    private void publishSettledQuietly() {
        try {
            publishSettled();
        } catch (IOException e) {
            err.println("attach " + options.sourceId() + ": cannot read " + options.dumpDir() + ": " + e.getMessage());
        }
    }

    /**
     * Publishes every settled dump not yet published, in dump order, each in a transaction of its own;
     * stops at a file that cannot be read yet (one still being written), so windows go out in order.
     * Returns the windows published.
     */
    public int publishSettled() throws IOException {
        int published = 0;
        Set<String> present = folder.present();
        consumed.retainAll(present);
        unreadableLooks.keySet().retainAll(present);
        for (DumpFolder.DumpFile file : folder.settled(consumed)) {
            RecorderDump dump;
            try {
                dump = RecorderDump.read(file.path());
            } catch (IOException | RuntimeException e) {
                // A zip without its end (torch.save writes the central directory last) may still be being
                // written: look again next time, and let later windows wait. A whole file that is not a
                // recorder dump is reported at once.
                boolean unfinished = String.valueOf(e.getMessage()).contains("not a torch.save file");
                int looks = unreadableLooks.merge(file.name(), 1, Integer::sum);
                if (unfinished && looks < UNREADABLE_LOOKS) {
                    return published;
                }
                publishWindow(file, null, "not a readable recorder dump: " + e.getMessage());
                published++;
                continue;
            }
            unreadableLooks.remove(file.name());
            publishWindow(file, dump, null);
            published++;
        }
        return published;
    }

    /** One window in one transaction: its outputs (or its dead letter) and the checkpoint listing it. */
    private void publishWindow(DumpFolder.DumpFile file, RecorderDump dump, String badReason) {
        AttachCheckpoint before = checkpoint();
        long now = System.currentTimeMillis();
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        String line;
        if (badReason != null) {
            records.add(deadLetter(file, badReason, now));
            line = file.name() + ": dead letter: " + badReason;
        } else {
            try {
                line = file.name() + ": " + window(file, dump, now, records);
            } catch (IOException | IllegalArgumentException e) {
                restore(before);
                records.clear();
                records.add(deadLetter(file, e.getMessage(), now));
                line = file.name() + ": dead letter: " + e.getMessage();
                badReason = e.getMessage();
            }
        }
        consumed.add(file.name());
        windows++;
        try {
            send(records);
            out.println("attach " + options.sourceId() + ": " + line);
            if (badReason != null) {
                deadLetters++;
            }
            if (options.deletePublished()) {
                try {
                    Files.deleteIfExists(file.path()); // committed: the checkpoint forgets it once it is gone
                } catch (IOException e) {
                    err.println("attach " + options.sourceId() + ": cannot delete " + file.path() + ": " + e.getMessage());
                }
            }
        } catch (KafkaException e) {
            restore(before);
            throw e;
        }
    }

    /** The outputs of a readable dump; returns its report line. */
    private String window(DumpFolder.DumpFile file, RecorderDump dump, long now, List<ProducerRecord<byte[], byte[]>> records)
            throws IOException {
        if (dump instanceof RecorderDump.Stat stat) {
            records.add(load(file, "stat", -1, LogicalCounts.fromStat(stat.logicalCount()), now, options.sourceId()));
            return "stat, " + stat.logicalCount().dim(0) + " buffered passes -> load";
        }
        if (dump instanceof RecorderDump.PerPass perPass) {
            if (perPass.records().isEmpty()) {
                return "empty (nothing ran while recording)";
            }
            records.add(load(file, "per_pass", perPass.records().size(), LogicalCounts.fromRecords(perPass.records(),
                    perPass.physicalToLogical(), file.path()), now, rankSource(file.rank())));
            return "per_pass, " + perPass.records().size() + " passes -> load";
        }
        RecorderDump.PerToken perToken = (RecorderDump.PerToken) dump;
        // Without DP attention every rank records the same tokens: a rank's file that copies another's is
        // published once (import-sglang does the same).
        String copyOf = recentPerToken.putIfAbsent(perToken.contentHash(), file.name());
        if (copyOf != null && !copyOf.equals(file.name())) {
            return "per_token, the same passes as " + copyOf + " (another rank of a tensor-parallel group); published once";
        }
        if (model == null) {
            model = PerTokenSplitter.inferShape(perToken, "sglang-model");
            out.println("attach " + options.sourceId() + ": model inferred from " + file.name() + ": " + spec(model)
                    + " (give --model to name a catalog model)");
        }
        LiveSplitter splitter = splitters.computeIfAbsent(file.rank(),
                r -> new LiveSplitter(model, rankSource(r)));
        LiveSplitter.WindowReport[] report = new LiveSplitter.WindowReport[1];
        List<LiveSplitter.Published> out = splitter.window(perToken, now, report);
        addPasses(out, records);
        records.add(load(file, "per_token", report[0].passes(), LogicalCounts.fromRecords(perToken.records(),
                perToken.physicalToLogical(), file.path()), now, rankSource(file.rank())));
        return "per_token rank " + file.rank() + ": " + report[0].format() + "; " + out.size() + " passes published, "
                + splitter.heldPasses() + " held, " + splitter.openRequests() + " requests open";
    }

    private void closeOpenRequests(String why) {
        AttachCheckpoint before = checkpoint();
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        int open = 0;
        for (LiveSplitter s : splitters.values()) {
            open += s.openRequests();
            addPasses(s.closeAll(), records);
        }
        try {
            send(records);
        } catch (KafkaException e) {
            restore(before);
            throw e;
        }
        if (open > 0) {
            out.println("attach " + options.sourceId() + ": " + why + ": " + open
                    + " open requests ended at their last recorded step");
        }
    }

    private void addPasses(List<LiveSplitter.Published> published, List<ProducerRecord<byte[], byte[]>> records) {
        var selectionSerializer = Topics.SELECTIONS.valueSerde().serializer();
        var passSerializer = Topics.PASSES.valueSerde().serializer();
        for (LiveSplitter.Published p : published) {
            for (SelectionEvent e : p.selections()) {
                records.add(new ProducerRecord<>(Topics.SELECTIONS.name(), bytes(Topics.selectionKey(e)),
                        selectionSerializer.serialize(Topics.SELECTIONS.name(), e)));
                selections++;
            }
            records.add(new ProducerRecord<>(Topics.PASSES.name(), bytes(p.pass().getModel()),
                    passSerializer.serialize(Topics.PASSES.name(), p.pass())));
            passes++;
        }
    }

    private ProducerRecord<byte[], byte[]> load(DumpFolder.DumpFile file, String mode, int passCount, long[][] counts,
                                                long now, String source) {
        String modelId = model != null ? model.id() : options.model() != null ? options.model() : "sglang-model";
        List<Long> flat = new ArrayList<>();
        for (long[] row : counts) {
            for (long c : row) {
                flat.add(c);
            }
        }
        ExpertLoad load = new ExpertLoad(modelId, source, file.name(), mode, passCount, counts.length,
                counts.length == 0 ? 0 : counts[0].length, flat, now);
        loads++;
        return new ProducerRecord<>(Topics.EXPERT_LOAD.name(), bytes(modelId + "/" + source),
                Topics.EXPERT_LOAD.valueSerde().serializer().serialize(Topics.EXPERT_LOAD.name(), load));
    }

    private ProducerRecord<byte[], byte[]> deadLetter(DumpFolder.DumpFile file, String reason, long now) {
        DeadLetter d = DeadLetter.newBuilder().setApplication("attach-sglang")
                .setSourceTopic("sglang-dump:" + options.dumpDir().toAbsolutePath())
                .setSourcePartition(-1).setSourceOffset(-1L).setReason(reason)
                .setKey(ByteBuffer.wrap(bytes(file.name()))).setValue(null).setEventTimeMs(now).build();
        return new ProducerRecord<>(Topics.DEAD_LETTER.name(), bytes(file.name()),
                Topics.DEAD_LETTER.valueSerde().serializer().serialize(Topics.DEAD_LETTER.name(), d));
    }

    /** Sends the records and the checkpoint as one transaction. */
    private void send(List<ProducerRecord<byte[], byte[]>> records) {
        try {
            producer.beginTransaction();
            for (ProducerRecord<byte[], byte[]> r : records) {
                producer.send(r);
            }
            AttachCheckpoint c = checkpoint();
            producer.send(new ProducerRecord<>(Topics.ATTACH_CHECKPOINTS.name(), bytes(options.sourceId()),
                    Topics.ATTACH_CHECKPOINTS.valueSerde().serializer().serialize(Topics.ATTACH_CHECKPOINTS.name(), c)));
            producer.commitTransaction();
        } catch (ProducerFencedException e) {
            throw new IllegalStateException("another attach of source " + options.sourceId() + " has started: "
                    + e.getMessage(), e);
        } catch (KafkaException e) {
            try {
                producer.abortTransaction();
            } catch (KafkaException ignored) {
                // failing anyway; the next transaction (or the next attach) aborts it
            }
            throw e;
        }
    }

    private AttachCheckpoint checkpoint() {
        ObjectNode states = JSON.createObjectNode();
        splitters.forEach((rank, s) -> states.put(String.valueOf(rank), s.state()));
        return new AttachCheckpoint(options.sourceId(), model == null ? "" : spec(model), new ArrayList<>(consumed),
                states.toString(), windows, System.currentTimeMillis());
    }

    private void restore(AttachCheckpoint c) {
        consumed.clear();
        consumed.addAll(c.getConsumedDumps());
        windows = c.getWindows();
        splitters.clear();
        if (!c.getModel().isEmpty()) {
            model = ModelCatalog.parseShape(c.getModel());
        }
        try {
            JsonNode states = JSON.readTree(c.getSplitterState().isEmpty() ? "{}" : c.getSplitterState());
            var it = states.fields();
            while (it.hasNext()) {
                var e = it.next();
                int rank = Integer.parseInt(e.getKey());
                splitters.put(rank, LiveSplitter.restore(model, rankSource(rank), e.getValue().asText()));
            }
        } catch (IOException e) {
            throw new IllegalStateException("the checkpoint of " + options.sourceId() + " holds no readable splitter state: "
                    + e.getMessage(), e);
        }
    }

    /** A data-parallel rank's source: the server's for rank 0, with {@code :rank<r>} for the others. */
    private String rankSource(int rank) {
        return rank == 0 ? options.sourceId() : options.sourceId() + ":rank" + rank;
    }

    static String spec(ModelShape m) {
        StringBuilder layers = new StringBuilder();
        for (int l : m.moeLayers()) {
            layers.append(layers.length() == 0 ? "" : ",").append(l);
        }
        return m.id() + ":" + m.numLayers() + ":" + layers + ":" + m.numExperts() + ":" + m.topK();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void sleep(long ms, AtomicBoolean stop) {
        long end = System.currentTimeMillis() + ms;
        while (!stop.get() && System.currentTimeMillis() < end) {
            try {
                Thread.sleep(Math.min(50, Math.max(1, end - System.currentTimeMillis())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(10));
    }
}
