package io.expertcast.streams.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.streams.StreamsService;
import io.expertcast.streams.http.OpsServer;
import io.expertcast.streams.metrics.ServiceMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/**
 * What every stage's service must show when built (not started) through {@link StreamsService}: its
 * name, health from the state (not ready, live, CREATED) also over HTTP, and the runner's exception
 * handler counted on the stage's metrics.
 */
public final class RunnerChecks {
    private RunnerChecks() {
    }

    public static void assertBuiltByTheRunner(StreamsService service, ServiceMetrics metrics, String name)
            throws Exception {
        assertEquals(name, service.name());
        assertEquals(new StreamsService.Health(false, true, "CREATED"), service.health());
        String scrape = metrics.scrape(null).body();
        for (String decision : new String[] {"REPLACE_THREAD", "SHUTDOWN_CLIENT"}) {
            String series = "expertcast_stream_thread_failures_total{decision=\"" + decision + "\",service=\"" + name
                    + "\"} 0.0";
            assertTrue(scrape.contains(series), "no " + series + " in the scrape");
        }
        try (OpsServer http = OpsServer.start(0, metrics, service::streams)) {
            HttpResponse<String> health = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(http.url() + "health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(503, health.statusCode(), health.body());
            assertEquals("{\"status\": \"DOWN\", \"streams\": \"CREATED\", \"service\": \"" + name + "\"}",
                    health.body().trim());
        }
    }
}
