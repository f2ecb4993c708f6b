package io.expertcast.attach.standin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A local stand-in for an SGLang server's expert distribution recorder, for tests and the GPU-free
 * demo. It is NOT SGLang and runs no model: a {@link SimulatedEngine} makes up the passes. What it
 * copies from SGLang (python/sglang/srt/entrypoints/http_server.py and
 * python/sglang/srt/eplb/expert_distribution.py) is the protocol: GET or POST
 * {@code /start_expert_distribution_record} (reset the buffer and record),
 * {@code /stop_expert_distribution_record} and {@code /dump_expert_distribution_record} (write the
 * buffer to {@code <dir>/expert_distribution_recorder_<time.time()>_<rank>.pt}, or without the rank
 * in stat mode, then reset it, still recording), each answering 200 with a line of text; and the
 * dump files' layout, written by {@link TorchSave}.
 *
 * <p>Faults for tests: {@link #failNext} answers the next calls with an error, {@link #restart}
 * loses the buffer and the running requests as a restarted server does, and
 * {@link #dumpHalfWritten} leaves a dump file half written until the returned action completes it.
 */
public final class RecorderStandIn implements AutoCloseable {
    public enum Mode { PER_TOKEN, PER_PASS, STAT }

    private final SimulatedEngine engine;
    private final Path dumpDir;
    private final Mode mode;
    private final int ranks;
    private final int port;
    private int boundPort;
    private HttpServer server;
    private ExecutorService threads;
    private boolean recording;
    private final List<SimulatedEngine.Pass> buffer = new ArrayList<>();
    private final List<SimulatedEngine.Pass> dumped = new ArrayList<>();
    private final List<Path> files = new ArrayList<>();
    private final AtomicInteger failures = new AtomicInteger();
    private volatile int failStatus = 500;
    private final AtomicInteger calls = new AtomicInteger();
    private long lastDumpMicros;

    private RecorderStandIn(SimulatedEngine engine, Path dumpDir, Mode mode, int ranks, int port) {
        this.engine = engine;
        this.dumpDir = dumpDir;
        this.mode = mode;
        this.ranks = ranks;
        this.port = port;
    }

    /** Starts it on 127.0.0.1:port (0 = any free port). */
    public static RecorderStandIn start(SimulatedEngine engine, Path dumpDir, Mode mode, int ranks, int port)
            throws IOException {
        Files.createDirectories(dumpDir);
        RecorderStandIn s = new RecorderStandIn(engine, dumpDir, mode, ranks, port);
        s.listen(port);
        return s;
    }

    private void listen(int onPort) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), onPort), 0);
        threads = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "recorder-stand-in");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        server.createContext("/", this::route);
        server.start();
        boundPort = server.getAddress().getPort();
    }

    public int port() {
        return boundPort;
    }

    public String url() {
        return "http://127.0.0.1:" + port();
    }

    public Path dumpDir() {
        return dumpDir;
    }

    public SimulatedEngine engine() {
        return engine;
    }

    /** Runs passes of the engine; the recorder keeps them while it records. */
    public synchronized void run(int passes) {
        for (int i = 0; i < passes; i++) {
            SimulatedEngine.Pass p = engine.step();
            if (recording) {
                buffer.add(p);
            }
        }
    }

    /** What /start_expert_distribution_record does: reset the buffer and record. */
    public synchronized void startRecording() {
        buffer.clear();
        recording = true;
    }

    public synchronized boolean recording() {
        return recording;
    }

    /** Every pass written to a dump file so far, in order (the truth a test compares against). */
    public synchronized List<SimulatedEngine.Pass> dumpedPasses() {
        return List.copyOf(dumped);
    }

    public synchronized List<Path> files() {
        return List.copyOf(files);
    }

    /** Calls to the recorder endpoints answered so far (errors included). */
    public int calls() {
        return calls.get();
    }

    /** The next {@code n} calls are answered with this status and no action. */
    public void failNext(int n, int status) {
        failStatus = status;
        failures.set(n);
    }

    /** Stops listening (a crashed server: connections are refused). */
    public synchronized void crash() {
        server.stop(0);
        threads.shutdownNow();
        recording = false;
        buffer.clear();
        engine.abortAll();
    }

    /** A crashed server started again on the same port: not recording, its earlier requests gone. */
    public synchronized void restart() throws IOException {
        listen(boundPort);
    }

    /** Dumps as the endpoint does, but leaves the first file half written; run the result to finish it. */
    public synchronized Runnable dumpHalfWritten() throws IOException {
        List<Path> written = dump();
        Path file = written.get(0);
        byte[] full = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(full, full.length / 2));
        return () -> {
            try {
                Files.write(file, java.util.Arrays.copyOfRange(full, full.length / 2, full.length),
                        StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
    }

    private void route(HttpExchange ex) throws IOException {
        try (ex) {
            calls.incrementAndGet();
            String path = ex.getRequestURI().getPath();
            if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("POST")) {
                reply(ex, 405, "{\"detail\":\"Method Not Allowed\"}");
                return;
            }
            if (failures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                reply(ex, failStatus, "Internal Server Error");
                return;
            }
            switch (path) {
                case "/start_expert_distribution_record" -> {
                    startRecording();
                    reply(ex, 200, "Start recording the expert distribution.\n");
                }
                case "/stop_expert_distribution_record" -> {
                    synchronized (this) {
                        recording = false;
                    }
                    reply(ex, 200, "Stop recording the expert distribution.\n");
                }
                case "/dump_expert_distribution_record" -> {
                    dump();
                    reply(ex, 200, "Dump expert distribution record.\n");
                }
                default -> reply(ex, 404, "{\"detail\":\"Not Found\"}");
            }
        }
    }

    /** Writes the buffer to the dump folder (one file per rank, one in stat mode) and resets it. */
    public synchronized List<Path> dump() throws IOException {
        List<Path> written = new ArrayList<>();
        // time.time() with microseconds, strictly increasing so names sort as the dumps were taken
        long micros = Math.max(System.currentTimeMillis() * 1000, lastDumpMicros + 1);
        lastDumpMicros = micros;
        String time = String.format(Locale.ROOT, "%d.%06d", micros / 1_000_000, micros % 1_000_000);
        if (mode == Mode.STAT) {
            Path file = dumpDir.resolve("expert_distribution_recorder_" + time + ".pt");
            Files.write(file, TorchSave.toBytes(statDump()));
            written.add(file);
        } else {
            for (int rank = 0; rank < ranks; rank++) {
                Path file = dumpDir.resolve("expert_distribution_recorder_" + time + "_" + rank + ".pt");
                Files.write(file, TorchSave.toBytes(detailDump(rank)));
                written.add(file);
            }
        }
        files.addAll(written);
        dumped.addAll(buffer);
        buffer.clear();
        return written;
    }

    private Map<String, Object> detailDump(int rank) {
        List<Object> records = new ArrayList<>();
        for (SimulatedEngine.Pass p : buffer) {
            Map<String, Object> r = new LinkedHashMap<>(p.record());
            r.put("rank", rank);
            if (mode == Mode.PER_PASS) {
                // the per_pass gatherer keeps only the counts (_SelectExpertsSinglePassGatherer)
                Map<String, Object> counts = new LinkedHashMap<>();
                counts.put("forward_pass_id", r.get("forward_pass_id"));
                counts.put("rank", rank);
                counts.put("gatherer_key", "primary");
                counts.put("global_physical_count", r.get("global_physical_count"));
                r = counts;
            }
            records.add(r);
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("records", records);
        root.put("last_physical_to_logical_map", engine.physicalToLogicalMap());
        return root;
    }

    /** _StatAccumulator.dump: logical counts [passes, layers, logical] through the map. */
    private Map<String, Object> statDump() {
        SimulatedEngine.Shape shape = engine.shape();
        int slots = engine.physicalSlots();
        long[] p2l = engine.physicalToLogicalMap().values();
        int rows = Math.max(1, buffer.size());
        long[] logical = new long[rows * shape.layers() * shape.logical()];
        for (int b = 0; b < buffer.size(); b++) {
            TorchSave.IntTensor c = (TorchSave.IntTensor) buffer.get(b).record().get("global_physical_count");
            for (int l = 0; l < shape.layers(); l++) {
                for (int p = 0; p < slots; p++) {
                    logical[(b * shape.layers() + l) * shape.logical() + (int) p2l[l * slots + p]] += c.values()[l * slots + p];
                }
            }
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("rank", 0);
        root.put("logical_count", new TorchSave.IntTensor("int32", new int[] {rows, shape.layers(), shape.logical()}, logical));
        root.put("average_utilization_rate_over_window", null);
        return root;
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public synchronized void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
