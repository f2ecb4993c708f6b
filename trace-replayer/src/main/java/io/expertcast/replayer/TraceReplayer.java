package io.expertcast.replayer;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.source.DatasetSource;
import io.expertcast.core.trace.source.TraceSource;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import io.expertcast.streams.pass.BatchScheduler;
import io.expertcast.streams.pass.ScheduledPass;

/**
 * Replays trace sources into Kafka: SelectionEvents keyed by request id on moe.selections, then
 * each pass's ForwardPass keyed by model on moe.passes, with an idempotent producer (a retried send
 * is never written twice). Every record carries the replay's source id
 * ({@link ReplayOptions#withResolvedSource}), so two replays at once are two sources, planned and
 * emulated apart.
 */
public final class TraceReplayer {
    private TraceReplayer() {
    }

    public static ReplaySummary replay(ReplayOptions options, PrintStream progressOrNull) {
        return replay(options, ModelCatalog.standard(), 0, progressOrNull);
    }

    /** As above, with a catalog holding extra shapes and an expert count for inferred models. */
    public static ReplaySummary replay(ReplayOptions options, ModelCatalog catalog, int experts,
                                       PrintStream progressOrNull) {
        return replay(options, List.of(new DatasetSource(options.traces(), catalog, experts)), progressOrNull);
    }

    /**
     * Replays several sources one after the other (dataset folders, JSON-lines files, synthetic runs);
     * a batch holds one model, so a source of another model starts when the batch has drained.
     */
    public static ReplaySummary replay(ReplayOptions options, List<TraceSource> sources, PrintStream progressOrNull) {
        return replay(options, sources, progressOrNull, () -> false);
    }

    /**
     * As above; when {@code stopRequested} turns true (SIGTERM, Ctrl-C) the replay stops after the pass it is
     * sending, flushes, commits a named replay's checkpoint, and returns what it sent, marked interrupted.
     */
    public static ReplaySummary replay(ReplayOptions options, List<TraceSource> sources, PrintStream progressOrNull,
                                       BooleanSupplier stopRequested) {
        options = options.withResolvedSource();
        String sourceProblem = Topics.sourceProblem(options.sourceId());
        if (sourceProblem != null) {
            throw new IllegalArgumentException(sourceProblem);
        }
        List<String> skipped = java.util.Collections.synchronizedList(new ArrayList<>());
        Map<String, String> customShapes = java.util.Collections.synchronizedMap(new java.util.TreeMap<>());
        Iterator<RequestTrace> requests = notingShapes(
                limited(concatenated(sources, options.skipBad(), skipped), options.limit()), customShapes);
        boolean sizeKnown = sources.stream().allMatch(s -> s.size() >= 0);
        long sum = sources.stream().mapToLong(TraceSource::size).sum();
        long totalRequests = !sizeKnown ? -1 : options.limit() > 0 ? Math.min(options.limit(), sum) : sum;
        String sourceNames = String.join(" + ", sources.stream().map(TraceSource::describe).toList());
        ReplayCheckpoints checkpoints = options.replayId() == null ? null
                : new ReplayCheckpoints(options.bootstrap(), options.clientProperties(), options.replayId(), sourceNames,
                options.sourceId());
        BatchScheduler.Resume resume = checkpoints == null ? BatchScheduler.Resume.NONE : checkpoints.resume();
        BatchScheduler scheduler = new BatchScheduler(requests, options.batchSize(), options.prefillChunk(),
                System::currentTimeMillis, resume, options.sourceId());

        Properties p = new Properties();
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60_000);
        p.putAll(options.clientProperties()); // the user's settings (TLS, SASL, timeouts) win over these
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrap());
        if (checkpoints != null) {
            // One transactional id per named replay: a restarted replay fences (and so aborts) whatever
            // the interrupted one left uncommitted, and its committed checkpoint says where to go on.
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "expertcast-replay-" + options.replayId());
        }
        var selectionSerializer = Topics.SELECTIONS.valueSerde().serializer();
        var passSerializer = Topics.PASSES.valueSerde().serializer();
        AtomicReference<Exception> failure = new AtomicReference<>();
        long started = System.nanoTime();
        // Slept in slices, so a stop (SIGTERM) is seen within 100 ms even when a pass is due much later.
        RatePacer pacer = new RatePacer(options.tokensPerSecond(), options.stepMs(), System::nanoTime, nanos -> {
            long end = System.nanoTime() + nanos;
            for (long left = nanos; left > 0 && !stopRequested.getAsBoolean(); left = end - System.nanoTime()) {
                TimeUnit.NANOSECONDS.sleep(Math.min(left, 100_000_000L));
            }
        });
        long passes = 0;
        long events = 0;
        long tokens = 0;
        long bytes = 0;
        long finished = 0;
        long lastProgress = 0;
        long finishedBefore = checkpoints == null ? 0 : checkpoints.finishedBefore();
        int passesInTransaction = 0;
        boolean interrupted = false;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            if (checkpoints != null) {
                producer.initTransactions();
                producer.beginTransaction();
            }
            try {
                while (scheduler.hasNext()) {
                    if (stopRequested.getAsBoolean()) {
                        interrupted = true;
                        break;
                    }
                    ScheduledPass pass = scheduler.next();
                    for (SelectionEvent e : pass.selections()) {
                        byte[] key = Topics.selectionKey(e).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                        byte[] value = selectionSerializer.serialize(Topics.SELECTIONS.name(), e);
                        bytes += key.length + value.length;
                        producer.send(new ProducerRecord<>(Topics.SELECTIONS.name(), key, value), (md, ex) -> {
                            if (ex != null) {
                                failure.compareAndSet(null, ex);
                            }
                        });
                        if (e.getLastStep()) {
                            finished++;
                        }
                    }
                    byte[] key = pass.pass().getModel().getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    byte[] value = passSerializer.serialize(Topics.PASSES.name(), pass.pass());
                    bytes += key.length + value.length;
                    producer.send(new ProducerRecord<>(Topics.PASSES.name(), key, value), (md, ex) -> {
                        if (ex != null) {
                            failure.compareAndSet(null, ex);
                        }
                    });
                    passes++;
                    events += pass.selections().size();
                    tokens += pass.pass().getTotalTokens();
                    if (failure.get() != null) {
                        break;
                    }
                    if (checkpoints != null && ++passesInTransaction >= Math.max(1, options.checkpointPasses())) {
                        checkpoints.commit(producer, scheduler.position(), finishedBefore + finished, !scheduler.hasNext());
                        passesInTransaction = 0;
                        if (scheduler.hasNext()) {
                            producer.beginTransaction();
                        }
                    }
                    pacer.awaitDue(tokens, passes);
                    if (progressOrNull != null && System.nanoTime() - lastProgress > 200_000_000L) {
                        lastProgress = System.nanoTime();
                        progress(progressOrNull, finished, totalRequests, passes);
                    }
                }
            } catch (RuntimeException e) {
                if (checkpoints != null) {
                    abortQuietly(producer); // what this transaction sent is never read; the checkpoint stays
                }
                throw e;
            }
            if (checkpoints != null && failure.get() == null && (passesInTransaction > 0 || passes == 0)) {
                // (with nothing sent at all, the transaction begun above records the replay as complete)
                checkpoints.commit(producer, scheduler.position(), finishedBefore + finished, !interrupted);
            }
            producer.flush();
        } catch (KafkaException e) {
            throw new IllegalStateException("replay to " + options.bootstrap() + " failed: " + e.getMessage(), e);
        }
        if (failure.get() != null) {
            throw new IllegalStateException("replay to " + options.bootstrap() + " failed: " + failure.get().getMessage(),
                    failure.get());
        }
        if (progressOrNull != null) {
            progress(progressOrNull, finished, totalRequests, passes);
            progressOrNull.println();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        return new ReplaySummary(finished, passes, events, tokens, bytes, seconds, events / Math.max(seconds, 1e-9),
                List.copyOf(skipped), checkpoints == null ? null : checkpoints.resumeNote(), interrupted,
                List.copyOf(customShapes.values()), options.sourceId());
    }

    /** The requests, noting the shape spec of each model the standard catalog does not know. */
    private static Iterator<RequestTrace> notingShapes(Iterator<RequestTrace> it, Map<String, String> customShapes) {
        ModelCatalog standard = ModelCatalog.standard();
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public RequestTrace next() {
                RequestTrace r = it.next();
                if (!customShapes.containsKey(r.model().id()) && standard.byId(r.model().id()).isEmpty()) {
                    customShapes.put(r.model().id(), ModelCatalog.formatShape(r.model()));
                }
                return r;
            }
        };
    }

    private static void progress(PrintStream out, long done, long total, long passes) {
        int width = 30;
        int filled = total <= 0 ? width : (int) Math.min(width, done * width / total);
        out.print("\r[" + (total < 0 ? "?".repeat(width) : "#".repeat(filled) + " ".repeat(width - filled)) + "] " + done
                + "/" + (total < 0 ? "?" : total) + " requests, " + passes + " passes");
        out.flush();
    }

    private static void abortQuietly(KafkaProducer<byte[], byte[]> producer) {
        try {
            producer.abortTransaction();
        } catch (KafkaException ignored) {
            // the producer is failing anyway; the next replay with this id fences the transaction
        }
    }

    /** The sources' requests one source after the other, each opened when reached. */
    private static Iterator<RequestTrace> concatenated(List<TraceSource> sources, boolean skipBad, List<String> skipped) {
        return new Iterator<>() {
            private int source;
            private Iterator<RequestTrace> current;

            @Override
            public boolean hasNext() {
                while ((current == null || !current.hasNext()) && source < sources.size()) {
                    current = sources.get(source++).requests(skipBad, skipped);
                }
                return current != null && current.hasNext();
            }

            @Override
            public RequestTrace next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return current.next();
            }
        };
    }

    private static <T> Iterator<T> limited(Iterator<T> it, int limit) {
        if (limit <= 0) {
            return it;
        }
        return new Iterator<>() {
            private int taken;

            @Override
            public boolean hasNext() {
                return taken < limit && it.hasNext();
            }

            @Override
            public T next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                taken++;
                return it.next();
            }
        };
    }
}
