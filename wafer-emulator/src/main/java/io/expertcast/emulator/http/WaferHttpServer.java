package io.expertcast.emulator.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The emulator's read-only HTTP face on 127.0.0.1 (the JDK's HTTP server):
 * <ul>
 *   <li>{@code GET /metrics}: the {@link WaferSnapshot} as JSON;</li>
 *   <li>{@code GET /events}: the same snapshot as Server-Sent Events, one {@code data:} message per
 *       interval while the client stays connected;</li>
 *   <li>{@code GET /prometheus}: the per-policy totals in Prometheus' text format;</li>
 *   <li>{@code GET /}: the dashboard page, which reads {@code /events}.</li>
 * </ul>
 */
public final class WaferHttpServer implements AutoCloseable {
    /** Default port of the emulator's HTTP API and dashboard. */
    public static final int DEFAULT_PORT = 8470;

    private final HttpServer server;
    private final ExecutorService threads;
    private final WaferSnapshot snapshot;
    private final Duration eventInterval;
    private final ObjectMapper json = new ObjectMapper();
    private final byte[] dashboard;
    private volatile boolean closed;

    private WaferHttpServer(HttpServer server, ExecutorService threads, WaferSnapshot snapshot, Duration eventInterval) {
        this.server = server;
        this.threads = threads;
        this.snapshot = snapshot;
        this.eventInterval = eventInterval;
        try (InputStream in = WaferHttpServer.class.getResourceAsStream("dashboard.html")) {
            if (in == null) {
                throw new IllegalStateException("dashboard.html missing from the classpath");
            }
            this.dashboard = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts on 127.0.0.1:{@code port} (0: any free port), Server-Sent Events every second. */
    public static WaferHttpServer start(int port, WaferSnapshot snapshot) throws IOException {
        return start(port, snapshot, Duration.ofSeconds(1));
    }

    public static WaferHttpServer start(int port, WaferSnapshot snapshot, Duration eventInterval) throws IOException {
        return start(InetAddress.getLoopbackAddress(), port, snapshot, eventInterval);
    }

    /** On {@code address}: loopback unless a container must publish the port. */
    public static WaferHttpServer start(InetAddress address, int port, WaferSnapshot snapshot, Duration eventInterval)
            throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(address, port), 0);
        // An event stream holds its thread for as long as the page is open: a pool, not the
        // server's default single thread, so JSON requests are still answered meanwhile.
        ExecutorService threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "wafer-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        WaferHttpServer s = new WaferHttpServer(server, threads, snapshot, eventInterval);
        server.createContext("/", s::route);
        server.start();
        return s;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** The dashboard's address (loopback when bound to every address). */
    public String url() {
        InetAddress bound = server.getAddress().getAddress();
        String host = bound.isAnyLocalAddress() ? "127.0.0.1" : bound.getHostAddress();
        return "http://" + host + ":" + port() + "/";
    }

    private void route(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            if (!exchange.getRequestMethod().equals("GET")) {
                send(exchange, 405, "application/json", error("GET only"));
                return;
            }
            switch (path) {
                case "/metrics" -> send(exchange, 200, "application/json", json.writeValueAsBytes(snapshot.json()));
                case "/prometheus" -> send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8",
                        prometheus(snapshot.json()).getBytes(StandardCharsets.UTF_8));
                case "/", "/index.html" -> send(exchange, 200, "text/html; charset=utf-8", dashboard);
                case "/events" -> events(exchange);
                default -> send(exchange, 404, "application/json",
                        error("unknown path " + path + "; try /, /metrics, /events or /prometheus"));
            }
        }
    }

    private void events(HttpExchange exchange) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.getResponseHeaders().set("Cache-Control", "no-cache");
        exchange.sendResponseHeaders(200, 0);
        OutputStream out = exchange.getResponseBody();
        try {
            while (!closed) {
                out.write(("data: " + json.writeValueAsString(snapshot.json()) + "\n\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                Thread.sleep(eventInterval.toMillis());
            }
        } catch (IOException clientGone) {
            // the page was closed: nothing to do
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @SuppressWarnings("unchecked")
    static String prometheus(Map<String, Object> snapshotJson) {
        StringBuilder s = new StringBuilder();
        Map<String, Map<String, Object>> totals = (Map<String, Map<String, Object>>) snapshotJson.get("totals");
        String[][] gauges = {
                {"throughput_tokens_per_s", "gauge", "Decode tokens per second of emulated MoE time"},
                {"tokens", "counter", "Tokens emulated"},
                {"passes", "counter", "Forward passes emulated"},
                {"moe_time_ns", "counter", "Emulated MoE-layer time, slowest die per layer"},
                {"hops", "counter", "Remote weight reads weighted by Manhattan distance"},
                {"local_reads", "counter", "Expert weight reads from the die's own HBM"},
                {"remote_reads", "counter", "Expert weight reads from another die"},
                {"copy_reads", "counter", "Expert weight reads served by a copy made on an earlier remote read"},
                {"link_bytes", "counter", "Bytes over all directed D2D links"},
                {"llc_hit_rate", "gauge", "Share of weight reads served by the LLC"},
                {"die_balance", "gauge", "Slowest die time over mean die time (1 = balanced)"},
                {"prefetch_used", "counter", "moe.prefetch commands applied to at least one pass (Pred policies)"},
                {"prefetch_late", "counter", "moe.prefetch commands that arrived after their pass was emulated"},
                {"prefetch_unknown", "counter", "moe.prefetch commands naming a layer or expert the model lacks"},
                {"prefetch_expired", "counter", "moe.prefetch commands whose target pass never came"}};
        for (String[] g : gauges) {
            String name = "expertcast_wafer_" + g[0];
            s.append("# HELP ").append(name).append(' ').append(g[2]).append('\n');
            s.append("# TYPE ").append(name).append(' ').append(g[1]).append('\n');
            for (Map<String, Object> row : totals.values()) {
                Object v = row.get(g[0]);
                if (v instanceof Number n) {
                    s.append(name).append("{model=\"").append(row.get("model")).append("\",mesh=\"")
                            .append(row.get("mesh")).append("\",policy=\"").append(row.get("policy")).append("\"} ")
                            .append(String.format(Locale.ROOT, "%s", n)).append('\n');
                }
            }
        }
        return s.toString();
    }

    private byte[] error(String message) throws IOException {
        return json.writeValueAsBytes(Map.of("error", message));
    }

    private static void send(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        closed = true;
        server.stop(0);
        threads.shutdownNow();
        try {
            threads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
