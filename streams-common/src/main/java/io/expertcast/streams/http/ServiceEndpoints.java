package io.expertcast.streams.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.expertcast.streams.StreamsService;
import io.expertcast.streams.metrics.ServiceMetrics;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every service answers besides its own API, on whichever JDK HTTP server it already runs:
 * <ul>
 *   <li>{@code GET /metrics}: Prometheus' text format (OpenMetrics when the scraper asks for it);</li>
 *   <li>{@code GET /health}: readiness, 200 only while the Streams application is RUNNING, else 503
 *       with the state (REBALANCING, CREATED, ERROR, ...);</li>
 *   <li>{@code GET /health/live}: liveness, 200 unless the application stopped or failed.</li>
 * </ul>
 * The health answers are JSON: {@code {"status": "UP"|"DOWN", "streams": "<state>", "service": "..."}}.
 */
public final class ServiceEndpoints {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceEndpoints.class);

    private ServiceEndpoints() {
    }

    /**
     * Adds {@code /metrics}, {@code /health} and {@code /health/live} to {@code server}. {@code streams}
     * may answer null until the application is built (health is then DOWN, "CREATED"-like: "NOT_BUILT").
     */
    public static void install(HttpServer server, ServiceMetrics metrics, Supplier<KafkaStreams> streams) {
        server.createContext("/metrics", exchange -> metrics(exchange, metrics));
        server.createContext("/health", exchange -> health(exchange, metrics.service(), streams));
    }

    private static void metrics(HttpExchange exchange, ServiceMetrics metrics) throws IOException {
        try (exchange) {
            if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                send(exchange, 405, "text/plain; charset=utf-8", "GET only\n");
                return;
            }
            if (!exchange.getRequestURI().getPath().equals("/metrics")) {
                send(exchange, 404, "text/plain; charset=utf-8", "no such path; try /metrics\n");
                return;
            }
            ServiceMetrics.Scrape scrape;
            try {
                scrape = metrics.scrape(exchange.getRequestHeaders().getFirst("Accept"));
            } catch (RuntimeException e) {
                // A failed scrape is an answer that says so, never an empty 200 (Prometheus marks the target down).
                LOG.warn("scrape failed", e);
                send(exchange, 503, "text/plain; charset=utf-8", "scrape failed: " + e + "\n");
                return;
            }
            send(exchange, 200, scrape.contentType(), scrape.body());
        }
    }

    private static void health(HttpExchange exchange, String service, Supplier<KafkaStreams> streams) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            boolean live = path.equals("/health/live");
            if (!live && !path.equals("/health") && !path.equals("/health/")) {
                send(exchange, 404, "application/json", "{\"error\": \"no such path; try /health or /health/live\"}");
                return;
            }
            // Readiness and liveness as every service's runner judges them (StreamsService.Health).
            StreamsService.Health health = StreamsService.Health.of(streams.get());
            boolean up = live ? health.live() : health.ready();
            send(exchange, up ? 200 : 503, "application/json",
                    "{\"status\": \"" + (up ? "UP" : "DOWN") + "\", \"streams\": \"" + health.state()
                            + "\", \"service\": \"" + service.replace("\"", "") + "\"}\n");
        }
    }

    private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }
}
