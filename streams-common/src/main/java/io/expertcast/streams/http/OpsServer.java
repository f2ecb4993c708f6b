package io.expertcast.streams.http;

import com.sun.net.httpserver.HttpServer;
import io.expertcast.streams.metrics.ServiceMetrics;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;

/**
 * An HTTP server with only {@link ServiceEndpoints} (/metrics, /health), for a service that has no
 * API of its own (the allocator). Binds 127.0.0.1 unless told otherwise.
 */
public final class OpsServer implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService executor;

    private OpsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Starts on {@code address}:{@code port} (0: any free port). */
    public static OpsServer start(InetAddress address, int port, ServiceMetrics metrics, Supplier<KafkaStreams> streams)
            throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(address, port), 0);
        ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, metrics.service() + "-ops-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        ServiceEndpoints.install(server, metrics, streams);
        server.createContext("/", exchange -> {
            try (exchange) {
                boolean index = exchange.getRequestURI().getPath().equals("/");
                byte[] body = (index ? "{\"service\": \"" + metrics.service() + "\", \"endpoints\": [\"/metrics\", \"/health\", \"/health/live\"]}\n"
                        : "{\"error\": \"no such path; try /metrics, /health or /health/live\"}\n").getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(index ? 200 : 404, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        server.start();
        return new OpsServer(server, executor);
    }

    /** Starts on 127.0.0.1. */
    public static OpsServer start(int port, ServiceMetrics metrics, Supplier<KafkaStreams> streams) throws IOException {
        return start(InetAddress.getLoopbackAddress(), port, metrics, streams);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** http://host:port/ (loopback when bound to every address). */
    public String url() {
        InetAddress bound = server.getAddress().getAddress();
        return "http://" + (bound.isAnyLocalAddress() ? "127.0.0.1" : bound.getHostAddress()) + ":" + port() + "/";
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
