package io.expertcast.streams.query;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.expertcast.streams.http.ServiceEndpoints;
import io.expertcast.streams.metrics.ServiceMetrics;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Read-only JSON over HTTP on 127.0.0.1 (the JDK's HTTP server, as the emulator's API): GET routes
 * by path prefix, errors as {@code {"error": "..."}} with their status, and {@link #forward} to
 * repeat a request on the instance that owns the data (Kafka Streams interactive queries). Bound at
 * construction, so the port is known before the Streams application that advertises it is built.
 */
public final class QueryServer implements AutoCloseable {
    /** Header marking a request another instance forwarded: it is never forwarded again. */
    public static final String FORWARDED_HEADER = "X-Expertcast-Forwarded-By";
    private static final Logger LOG = LoggerFactory.getLogger(QueryServer.class);
    private static final Duration FORWARD_TIMEOUT = Duration.ofSeconds(10);

    private final HttpServer server;
    private final ExecutorService executor;
    private final HttpClient client;
    private final ObjectMapper json = new ObjectMapper();

    private QueryServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
        this.client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    }

    /** Binds 127.0.0.1:{@code port} (0: any free port); routes are added, then {@link #start()}. */
    public static QueryServer bind(int port) throws IOException {
        return bind(InetAddress.getLoopbackAddress(), port);
    }

    /** Binds {@code address}:{@code port}: every address only where a container publishes the port. */
    public static QueryServer bind(InetAddress address, int port) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(address, port), 0);
        // Several threads: a handler waiting on another instance must not block the answers that instance needs.
        ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "query-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        return new QueryServer(server, executor);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** What the Streams application advertises as {@code application.server}. */
    public HostInfo hostInfo() {
        InetAddress bound = server.getAddress().getAddress();
        if (bound.isAnyLocalAddress()) {
            // Bound to every address (a container): the others reach this instance by its host name.
            try {
                return new HostInfo(InetAddress.getLocalHost().getHostName(), port());
            } catch (IOException e) {
                return new HostInfo("127.0.0.1", port());
            }
        }
        return new HostInfo(bound.getHostAddress(), port());
    }

    /** The {@code application.server} value: host:port. */
    public String advertisedAddress() {
        return hostInfo().host() + ":" + port();
    }

    /** GET {@code prefix} and everything below it go to {@code handler}. */
    public QueryServer route(String prefix, QueryHandler handler) {
        server.createContext(prefix, exchange -> answer(exchange, prefix, handler));
        return this;
    }

    /** Adds {@code /metrics} and {@code /health} ({@link ServiceEndpoints}) beside the query routes. */
    public QueryServer serveOps(ServiceMetrics metrics, Supplier<KafkaStreams> streams) {
        ServiceEndpoints.install(server, metrics, streams);
        return this;
    }

    public QueryServer start() {
        server.start();
        return this;
    }

    /** The JSON mapper replies are built with. */
    public ObjectMapper json() {
        return json;
    }

    /**
     * Repeats {@code request} on {@code owner} and returns its answer as is. A request that was itself
     * forwarded is not forwarded again (ownership moved under it): 503.
     */
    public QueryReply forward(HostInfo owner, QueryRequest request) {
        if (request.forwarded()) {
            throw QueryException.unavailable("the data moved while the request was forwarded (rebalance); retry");
        }
        return get(owner, request.pathAndQuery());
    }

    /** GET {@code pathAndQuery} on another instance, marked as forwarded; its status and body as they came. */
    public QueryReply get(HostInfo owner, String pathAndQuery) {
        URI uri = URI.create("http://" + owner.host() + ":" + owner.port() + pathAndQuery);
        HttpRequest http = HttpRequest.newBuilder(uri).timeout(FORWARD_TIMEOUT)
                .header(FORWARDED_HEADER, advertisedAddress()).GET().build();
        try {
            HttpResponse<byte[]> response = client.send(http, HttpResponse.BodyHandlers.ofByteArray());
            return new QueryReply(response.statusCode(), json.readTree(response.body()));
        } catch (IOException e) {
            throw QueryException.unavailable("instance " + owner.host() + ":" + owner.port() + " did not answer: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw QueryException.unavailable("interrupted while asking " + owner.host() + ":" + owner.port());
        }
    }

    private void answer(HttpExchange exchange, String prefix, QueryHandler handler) throws IOException {
        try (exchange) {
            QueryReply reply;
            try {
                if (!exchange.getRequestMethod().equals("GET")) {
                    throw new QueryException(405, "GET only");
                }
                reply = handler.handle(request(exchange, prefix));
            } catch (QueryException e) {
                reply = error(e.status(), e.getMessage());
            } catch (RuntimeException e) {
                LOG.warn("query {} failed", exchange.getRequestURI(), e);
                reply = error(500, e.toString());
            }
            byte[] body = json.writerWithDefaultPrettyPrinter().writeValueAsBytes(reply.body());
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(reply.status(), body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private QueryReply error(int status, String message) {
        ObjectNode body = json.createObjectNode();
        body.put("error", message);
        return new QueryReply(status, body);
    }

    private static QueryRequest request(HttpExchange exchange, String prefix) {
        URI uri = exchange.getRequestURI();
        String path = uri.getRawPath();
        if (path.length() > prefix.length() && !prefix.endsWith("/") && path.charAt(prefix.length()) != '/') {
            throw QueryException.notFound("no such path: " + path); // "/requestsX" is not under "/requests"
        }
        List<String> segments = new ArrayList<>();
        for (String part : path.substring(Math.min(prefix.length(), path.length())).split("/")) {
            if (!part.isEmpty()) {
                segments.add(URLDecoder.decode(part, StandardCharsets.UTF_8));
            }
        }
        Map<String, String> params = new LinkedHashMap<>();
        String query = uri.getRawQuery();
        if (query != null) {
            for (String pair : query.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                params.put(name, value);
            }
        }
        String pathAndQuery = path + (query == null ? "" : "?" + query);
        boolean forwarded = exchange.getRequestHeaders().getFirst(FORWARDED_HEADER) != null;
        return new QueryRequest(List.copyOf(segments), Map.copyOf(params), pathAndQuery, forwarded);
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
