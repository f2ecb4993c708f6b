package io.expertcast.streams;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs rejected records as one line per kind of rejection per interval, with the count, instead of
 * a line (or a stack trace) per record: a flood of 10,000 bad records writes a few lines, not
 * megabytes. A kind is the stage, the source topic and the reason with its numbers and quoted
 * values blanked ("expert id # out of range ..."), so records rejected for the same cause share a
 * line; the line quotes the latest reason in full and the range of offsets.
 *
 * <p>One instance per JVM ({@link #shared()}), flushed by a daemon thread every
 * {@value #INTERVAL_PROPERTY} ms (default {@value #DEFAULT_INTERVAL_MS}).
 */
public final class RejectionLog {
    /** System property: the interval of the summary lines, in ms. */
    public static final String INTERVAL_PROPERTY = "expertcast.rejection.log.interval.ms";
    public static final long DEFAULT_INTERVAL_MS = 30_000;
    private static final Logger LOG = LoggerFactory.getLogger(RejectionLog.class);
    private static final Pattern QUOTED = Pattern.compile("'[^']*'");
    private static final Pattern NUMBER = Pattern.compile("-?\\d+(\\.\\d+)?");
    private static final int KIND_CHARS = 120;
    /** Distinct kinds kept; beyond, reasons share one "other" kind per stage and topic (bounded memory). */
    static final int MAX_KINDS = 1000;
    private static volatile RejectionLog shared;

    private final Consumer<String> sink;
    private final Map<String, Kind> kinds = new ConcurrentHashMap<>();
    private long lastFlushMs;

    /** Counts of one kind since the last flush. */
    private static final class Kind {
        final String application;
        final String topic;
        long count;
        long total;
        String lastReason;
        long firstOffset = Long.MAX_VALUE;
        long lastOffset = Long.MIN_VALUE;

        Kind(String application, String topic) {
            this.application = application;
            this.topic = topic;
        }
    }

    /** A log writing its lines to {@code sink} (tests); {@link #shared()} writes them to the WARN log. */
    public RejectionLog(Consumer<String> sink, long nowMs) {
        this.sink = sink;
        this.lastFlushMs = nowMs;
    }

    /** The JVM's log, flushed on its interval by a daemon thread. */
    public static RejectionLog shared() {
        RejectionLog log = shared;
        if (log == null) {
            synchronized (RejectionLog.class) {
                log = shared;
                if (log == null) {
                    long interval = Long.getLong(INTERVAL_PROPERTY, DEFAULT_INTERVAL_MS);
                    log = new RejectionLog(LOG::warn, System.currentTimeMillis());
                    ScheduledExecutorService flusher = Executors.newSingleThreadScheduledExecutor(r -> {
                        Thread t = new Thread(r, "expertcast-rejection-log");
                        t.setDaemon(true);
                        return t;
                    });
                    RejectionLog flushed = log;
                    flusher.scheduleAtFixedRate(() -> flushed.flush(System.currentTimeMillis()), interval, interval,
                            TimeUnit.MILLISECONDS);
                    shared = log;
                }
            }
        }
        return log;
    }

    /** Counts one rejected record (offset -1 when it has no single source record). */
    public void rejected(String application, String topic, String reason, int partition, long offset) {
        String kind = application + "|" + topic + "|" + kindOf(reason);
        if (kinds.size() >= MAX_KINDS && !kinds.containsKey(kind)) {
            kind = application + "|" + topic + "|other";
        }
        Kind k = kinds.computeIfAbsent(kind, x -> new Kind(application, topic));
        synchronized (k) {
            k.count++;
            k.total++;
            k.lastReason = reason;
            if (offset >= 0) {
                k.firstOffset = Math.min(k.firstOffset, offset);
                k.lastOffset = Math.max(k.lastOffset, offset);
            }
        }
    }

    /** The reason with what varies between records of one cause blanked. */
    static String kindOf(String reason) {
        String kind = NUMBER.matcher(QUOTED.matcher(reason).replaceAll("'…'")).replaceAll("#");
        return kind.length() <= KIND_CHARS ? kind : kind.substring(0, KIND_CHARS);
    }

    /** Writes one line per kind counted since the last flush; returns how many lines it wrote. */
    public int flush(long nowMs) {
        long seconds = Math.max(0, (nowMs - lastFlushMs) / 1000);
        lastFlushMs = nowMs;
        List<String> lines = new ArrayList<>();
        for (Kind k : kinds.values()) {
            synchronized (k) {
                if (k.count == 0) {
                    continue;
                }
                String offsets = k.firstOffset == Long.MAX_VALUE ? ""
                        : k.firstOffset == k.lastOffset ? " at offset " + k.firstOffset
                        : " at offsets " + k.firstOffset + ".." + k.lastOffset;
                lines.add(String.format(Locale.ROOT, "%s: %d record(s) of %s to the dead letters in the last %d s"
                                + " (%d since start)%s; latest reason: %s", k.application, k.count, k.topic, seconds,
                        k.total, offsets, k.lastReason));
                k.count = 0;
                k.firstOffset = Long.MAX_VALUE;
                k.lastOffset = Long.MIN_VALUE;
            }
        }
        lines.forEach(sink);
        return lines.size();
    }

    /** Rejected records counted since start, all kinds (for tests and health figures). */
    public long total() {
        long total = 0;
        for (Kind k : kinds.values()) {
            synchronized (k) {
                total += k.total;
            }
        }
        return total;
    }
}
