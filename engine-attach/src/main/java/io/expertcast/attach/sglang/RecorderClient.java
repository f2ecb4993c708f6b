package io.expertcast.attach.sglang;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Drives SGLang's expert distribution recorder over HTTP: POST {@code /start_expert_distribution_record},
 * {@code /dump_expert_distribution_record}, {@code /stop_expert_distribution_record} (SGLang accepts GET
 * or POST on each, python/sglang/srt/entrypoints/http_server.py). A dump writes the buffer to files on
 * the server and resets it; the call returns once they are written.
 */
public final class RecorderClient {
    /** The server answered, but not with success. */
    public static final class RecorderError extends IOException {
        public final int status;

        RecorderError(String endpoint, int status, String body) {
            super(endpoint + " answered HTTP " + status + ": " + body.strip()
                    + (status >= 500 ? " (was the server started with --expert-distribution-recorder-mode?)" : ""));
            this.status = status;
        }
    }

    private final String base;
    private final HttpClient http;
    private final Duration timeout;

    public RecorderClient(String url, Duration timeout) {
        this.base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
    }

    public String url() {
        return base;
    }

    public void start() throws IOException {
        call("/start_expert_distribution_record");
    }

    public void dump() throws IOException {
        call("/dump_expert_distribution_record");
    }

    public void stop() throws IOException {
        call("/stop_expert_distribution_record");
    }

    private void call(String endpoint) throws IOException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + endpoint)).timeout(timeout)
                .POST(HttpRequest.BodyPublishers.noBody()).build();
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(endpoint + ": interrupted", e);
        } catch (IOException e) {
            throw new IOException(base + endpoint + ": " + (e.getMessage() == null ? e.getClass().getSimpleName()
                    : e.getMessage()), e);
        }
        if (response.statusCode() / 100 != 2) {
            String body = response.body() == null ? "" : response.body();
            throw new RecorderError(base + endpoint, response.statusCode(), body.length() > 300 ? body.substring(0, 300) : body);
        }
    }
}
