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
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import io.expertcast.streams.http.ServiceEndpoints;
import io.expertcast.streams.metrics.ServiceMetrics;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The emulator's read-only HTTP face on 127.0.0.1 (the JDK's HTTP server), the pipeline's page:
 * <ul>
 *   <li>{@code GET /}: the page, which follows {@code /events} and the {@code /api/...} answers;</li>
 *   <li>{@code GET /snapshot}: the {@link WaferSnapshot} as JSON; {@code GET /events}: the same as
 *       Server-Sent Events, one {@code data:} message per interval while the client stays connected;</li>
 *   <li>{@code GET /api/pipeline}, {@code /api/heatmap?model=&layer=&kind=}, {@code /api/series},
 *       {@code /api/placement?model=&layer=}: what {@link PipelinePage} read from the topics (404 without it);
 *       {@code /api/requests}, {@code /api/request?id=}: recent requests' prefill and decode counts;</li>
 *   <li>{@code GET /assets/...}: the page's charting library (uPlot, bundled in the jar);</li>
 *   <li>{@code GET /metrics}, {@code /health}: Prometheus metrics and readiness ({@link ServiceEndpoints}).</li>
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
    private final ServiceMetrics metrics;
    private final boolean ownsMetrics;
    private final PipelinePage page;
    private volatile boolean closed;

    private WaferHttpServer(HttpServer server, ExecutorService threads, WaferSnapshot snapshot, Duration eventInterval,
                            ServiceMetrics metrics, boolean ownsMetrics, PipelinePage page) {
        this.server = server;
        this.threads = threads;
        this.snapshot = snapshot;
        this.eventInterval = eventInterval;
        this.metrics = metrics;
        this.ownsMetrics = ownsMetrics;
        this.page = page;
        this.dashboard = resource("dashboard.html");
    }

    private static byte[] resource(String name) {
        try (InputStream in = WaferHttpServer.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " missing from the classpath");
            }
            return in.readAllBytes();
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
        ServiceMetrics metrics = ServiceMetrics.create("emulator");
        WaferMeters.bind(metrics, snapshot);
        return start(address, port, snapshot, eventInterval, metrics, true, () -> null, null);
    }

    /**
     * The service's server: {@code /metrics} from {@code metrics} (the caller binds the streams and
     * {@link WaferMeters} and closes it), {@code /health} from {@code streams} (null until built), the
     * page's topic views from {@code page} (may be null).
     */
    public static WaferHttpServer start(InetAddress address, int port, WaferSnapshot snapshot, Duration eventInterval,
                                        ServiceMetrics metrics, Supplier<KafkaStreams> streams, PipelinePage page)
            throws IOException {
        return start(address, port, snapshot, eventInterval, metrics, false, streams, page);
    }

    private static WaferHttpServer start(InetAddress address, int port, WaferSnapshot snapshot, Duration eventInterval,
                                         ServiceMetrics metrics, boolean ownsMetrics, Supplier<KafkaStreams> streams,
                                         PipelinePage page) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(address, port), 0);
        // An event stream holds its thread for as long as the page is open: a pool, not the
        // server's default single thread, so JSON requests are still answered meanwhile.
        ExecutorService threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "wafer-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        WaferHttpServer s = new WaferHttpServer(server, threads, snapshot, eventInterval, metrics, ownsMetrics, page);
        server.createContext("/", s::route);
        ServiceEndpoints.install(server, metrics, streams);
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
            Map<String, String> q = query(exchange.getRequestURI().getRawQuery());
            try {
                switch (path) {
                    case "/snapshot" -> sendJson(exchange, 200, snapshot.json());
                    case "/", "/index.html" -> send(exchange, 200, "text/html; charset=utf-8", dashboard);
                    case "/events" -> events(exchange);
                    case "/assets/uPlot.iife.min.js" -> send(exchange, 200, "text/javascript; charset=utf-8",
                            resource("uPlot.iife.min.js"));
                    case "/assets/uPlot.min.css" -> send(exchange, 200, "text/css; charset=utf-8", resource("uPlot.min.css"));
                    case "/api/requests" -> sendJson(exchange, 200, Map.of("requests", snapshot.requests().list()));
                    case "/api/request" -> {
                        Map<String, Object> r = snapshot.requests().request(required(q, "id"));
                        if (r == null) {
                            sendJson(exchange, 404, Map.of("error", "request " + q.get("id")
                                    + " is not among the last requests the emulator saw"));
                        } else {
                            sendJson(exchange, 200, r);
                        }
                    }
                    case "/api/pipeline", "/api/heatmap", "/api/series", "/api/placement" -> pageApi(exchange, path, q);
                    default -> send(exchange, 404, "application/json",
                            error("unknown path " + path + "; try /, /snapshot, /events, /api/pipeline, /metrics or /health"));
                }
            } catch (IllegalArgumentException bad) {
                sendJson(exchange, 400, Map.of("error", bad.getMessage()));
            } catch (RuntimeException e) {
                // The page shows the error; a reader never gets a bare 500.
                sendJson(exchange, 503, Map.of("error", "could not answer " + path + ": " + e));
            }
        }
    }

    private void pageApi(HttpExchange exchange, String path, Map<String, String> q) throws IOException {
        if (page == null) {
            sendJson(exchange, 404, Map.of("error", "this emulator does not read the pipeline's topics (no page)"));
            return;
        }
        switch (path) {
            case "/api/pipeline" -> sendJson(exchange, 200, page.index());
            case "/api/series" -> sendJson(exchange, 200, page.seriesJson());
            case "/api/heatmap" -> sendJson(exchange, 200, page.heatmapJson(required(q, "model"),
                    integer(q, "layer"), q.getOrDefault("kind", "TOKEN_TO_TOKEN")));
            default -> sendJson(exchange, 200, page.placementJson(required(q, "model"), integer(q, "layer"), meshDies()));
        }
    }

    private int meshDies() {
        Object dies = snapshot.mesh().get("dies");
        return dies instanceof Number n ? n.intValue() : 0;
    }

    private static String required(Map<String, String> q, String name) {
        String v = q.get(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("missing query parameter " + name);
        }
        return v;
    }

    private static int integer(Map<String, String> q, String name) {
        String v = required(q, name);
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be an integer, got " + v);
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new java.util.HashMap<>();
        if (raw != null) {
            for (String pair : raw.split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    out.put(java.net.URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                            java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
        }
        return out;
    }

    private void sendJson(HttpExchange exchange, int status, Object body) throws IOException {
        send(exchange, status, "application/json", json.writeValueAsBytes(body));
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
        if (ownsMetrics) {
            metrics.close();
        }
        threads.shutdownNow();
        try {
            threads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
