package io.expertcast.emulator.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Debian's chromium, headless, driven over the DevTools protocol (a WebSocket), so a test can wait
 * for what a page's script draws instead of racing it ({@code --dump-dom} returns at the load event,
 * and {@code --virtual-time-budget} never ends while an event stream is open). Only this process
 * and its children are stopped on close.
 */
public final class HeadlessChromium implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("DevTools listening on (ws://127\\.0\\.0\\.1:(\\d+)/\\S+)");

    private final Process process;
    private final WebSocket page;
    private final ObjectMapper json = new ObjectMapper();
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();

    /** The browser binary, if installed. */
    public static Optional<Path> binary() {
        return Stream.of("/usr/bin/chromium", "/usr/bin/chromium-browser").map(Path::of)
                .filter(Files::isExecutable).findFirst();
    }

    /** Opens {@code url} in a new headless browser with its profile under {@code profile}. */
    public HeadlessChromium(Path binary, Path profile, String url) throws Exception {
        process = new ProcessBuilder(binary.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--window-size=1280,1600", "--hide-scrollbars", "--user-data-dir=" + profile, "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0", url).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            int port = devToolsPort();
            page = connect(port);
        } catch (Exception e) {
            close();
            throw e;
        }
    }

    private int devToolsPort() throws Exception {
        BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8));
        CompletableFuture<Integer> port = CompletableFuture.supplyAsync(() -> {
            try {
                for (String line; (line = err.readLine()) != null; ) {
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        // keep draining stderr so the browser never blocks on a full pipe
                        Thread drain = new Thread(() -> {
                            try {
                                while (err.readLine() != null) {
                                    // discard
                                }
                            } catch (IOException ignored) {
                                // the browser exited
                            }
                        }, "chromium-stderr");
                        drain.setDaemon(true);
                        drain.start();
                        return Integer.parseInt(m.group(2));
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            throw new IllegalStateException("chromium exited without opening DevTools");
        });
        return port.get(60, TimeUnit.SECONDS);
    }

    private WebSocket connect(int port) throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            JsonNode targets = json.readTree(client.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/json/list")).build(), HttpResponse.BodyHandlers.ofString()).body());
            for (JsonNode t : targets) {
                if (t.path("type").asText().equals("page") && t.has("webSocketDebuggerUrl")) {
                    return client.newWebSocketBuilder().buildAsync(URI.create(t.get("webSocketDebuggerUrl").asText()),
                            new Replies()).get(30, TimeUnit.SECONDS);
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no page target in " + targets);
            }
            Thread.sleep(100);
        }
    }

    /** Evaluates {@code expression} in the page and returns its value (JSON). */
    public JsonNode evaluate(String expression) throws Exception {
        JsonNode result = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true));
        if (result.has("error") || result.path("result").has("exceptionDetails")) {
            throw new IllegalStateException("page error: " + result);
        }
        return result.path("result").path("result").path("value");
    }

    /** A DevTools protocol call on the page; its whole reply. */
    public JsonNode call(String method, Map<String, ?> params) throws Exception {
        int id = ids.incrementAndGet();
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        page.sendText(json.writeValueAsString(Map.of("id", id, "method", method, "params", params)), true)
                .get(10, TimeUnit.SECONDS);
        return reply.get(30, TimeUnit.SECONDS);
    }

    /** A PNG of the whole page (beyond the window), written to {@code file}. */
    public void screenshot(Path file) throws Exception {
        JsonNode size = call("Page.getLayoutMetrics", Map.of()).path("result").path("cssContentSize");
        Map<String, Object> clip = Map.of("x", 0, "y", 0, "width", size.path("width").asDouble(1280),
                "height", size.path("height").asDouble(1600), "scale", 1);
        JsonNode shot = call("Page.captureScreenshot", Map.of("format", "png", "captureBeyondViewport", true, "clip", clip));
        if (!shot.path("result").has("data")) {
            throw new IllegalStateException("no screenshot: " + shot);
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.write(file, java.util.Base64.getDecoder().decode(shot.path("result").path("data").asText()));
    }

    /**
     * Waits until {@code condition} (a JavaScript boolean expression) holds in the page; an
     * expression that throws (the page still loading) counts as false until the timeout.
     */
    public void await(String condition, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "";
        while (true) {
            try {
                if (evaluate(condition).asBoolean(false)) {
                    return;
                }
            } catch (IllegalStateException pageError) {
                last = pageError.getMessage();
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("page never satisfied " + condition + "; last error: " + last + "; body: "
                        + evaluate("document.body ? document.body.innerText : ''").asText());
            }
            Thread.sleep(100);
        }
    }

    private final class Replies implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    JsonNode message = json.readTree(partial.toString());
                    CompletableFuture<JsonNode> reply = message.has("id") ? pending.remove(message.get("id").asInt()) : null;
                    if (reply != null) {
                        reply.complete(message);
                    }
                } catch (IOException e) {
                    pending.values().forEach(f -> f.completeExceptionally(e));
                }
                partial.setLength(0);
            }
            socket.request(1);
            return null;
        }
    }

    @Override
    public void close() {
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
