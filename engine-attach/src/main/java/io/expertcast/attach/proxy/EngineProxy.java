package io.expertcast.attach.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * {@code expertcast proxy}: an HTTP proxy in front of an SGLang or vLLM server. On SGLang's
 * {@code /generate} it asks for the request's routed experts ({@code "return_routed_experts": true}); vLLM
 * returns them on {@code /v1/completions} and {@code /v1/chat/completions} whenever the server runs with
 * --enable-return-routed-experts (SGLang's OpenAI endpoints only when the client asks). It passes the reply to the client as
 * the engine wrote it, less the routed-experts fields unless the client asked for them, streamed
 * events forwarded one by one as they come, and publishes each finished request's selections. A
 * reply it cannot read is passed on untouched and counted; the client always gets the engine's reply.
 */
public final class EngineProxy implements AutoCloseable {
    public enum Engine { SGLANG, VLLM }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> ROUTABLE = Set.of("/generate", "/v1/completions", "/v1/chat/completions");
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "content-length", "transfer-encoding", "host",
            "keep-alive", "upgrade", "expect", "te", "trailer", "proxy-connection", "http2-settings");

    /**
     * @param tagHeader         the request header carrying workload tags ({@code benchmark=..; subject=..; language=..})
     * @param physicalToLogical [layer][slot] -> logical expert, or null when the engine's ids are logical
     */
    public record Options(URI upstream, String listenHost, int listenPort, Engine engine, ModelShape model,
                          int[][] physicalToLogical, String source, String tagHeader) {
    }

    /** Counters since start. */
    public record Stats(long requests, long published, long events, long withoutRoutedExperts, long badReplies,
                        long upstreamFailures) {
    }

    private final Options options;
    private final Consumer<List<SelectionEvent>> publish;
    private final PrintStream log;
    private final HttpServer server;
    private final ExecutorService threads;
    private final HttpClient http;
    private final AtomicLong passIds = new AtomicLong();
    private final AtomicLong requestIds = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong published = new AtomicLong();
    private final AtomicLong events = new AtomicLong();
    private final AtomicLong withoutRouted = new AtomicLong();
    private final AtomicLong bad = new AtomicLong();
    private final AtomicLong upstreamFailures = new AtomicLong();

    /** @param publish where each finished request's events go (the Kafka sink in the command) */
    public EngineProxy(Options options, Consumer<List<SelectionEvent>> publish, PrintStream log) throws IOException {
        this.options = options;
        this.publish = publish;
        this.log = log;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
                .build();
        this.server = HttpServer.create(new InetSocketAddress(options.listenHost(), options.listenPort()), 256);
        this.threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "engine-proxy");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        server.createContext("/", this::handle);
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public Stats stats() {
        return new Stats(requests.get(), published.get(), events.get(), withoutRouted.get(), bad.get(),
                upstreamFailures.get());
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            requests.incrementAndGet();
            byte[] body = ex.getRequestBody().readAllBytes();
            String path = ex.getRequestURI().getPath();
            boolean routable = ex.getRequestMethod().equals("POST") && ROUTABLE.contains(path);
            boolean clientAsked = false;
            byte[] upstreamBody = body;
            if (routable) {
                try {
                    JsonNode request = JSON.readTree(body);
                    if (request instanceof ObjectNode o) {
                        clientAsked = o.path("return_routed_experts").asBoolean(false);
                        // GenerateReqInput has return_routed_experts; whether SGLang's OpenAI requests accept the
                        // field was not verified, so those are passed as the client wrote them
                        if (options.engine() == Engine.SGLANG && path.equals("/generate") && !clientAsked) {
                            o.put("return_routed_experts", true);
                            upstreamBody = JSON.writeValueAsBytes(o);
                        }
                    }
                } catch (IOException notJson) {
                    routable = false; // the engine answers it as it will
                }
            }
            HttpRequest.Builder up = HttpRequest.newBuilder(options.upstream().resolve(ex.getRequestURI().toString()))
                    .method(ex.getRequestMethod(), upstreamBody.length == 0 && !ex.getRequestMethod().equals("POST")
                            ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(upstreamBody));
            ex.getRequestHeaders().forEach((name, values) -> {
                if (!HOP_BY_HOP.contains(name.toLowerCase(Locale.ROOT))) {
                    for (String v : values) {
                        try {
                            up.header(name, v);
                        } catch (IllegalArgumentException restricted) {
                            // a header the JDK client sets itself (Date, Via, ...): not forwarded
                        }
                    }
                }
            });
            HttpResponse<InputStream> response;
            try {
                response = http.send(up.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (IOException | InterruptedException e) {
                upstreamFailures.incrementAndGet();
                byte[] msg = ("{\"error\":\"expertcast proxy: upstream " + options.upstream() + " did not answer: "
                        + String.valueOf(e.getMessage()).replace("\"", "'") + "\"}").getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "application/json");
                ex.sendResponseHeaders(502, msg.length);
                ex.getResponseBody().write(msg);
                return;
            }
            response.headers().map().forEach((name, values) -> {
                if (!HOP_BY_HOP.contains(name.toLowerCase(Locale.ROOT)) && !name.startsWith(":")) {
                    ex.getResponseHeaders().put(name, values);
                }
            });
            RequestEvents.Tags tags = RequestEvents.Tags.parse(ex.getRequestHeaders().getFirst(options.tagHeader()));
            boolean streamed = response.headers().firstValue("content-type").orElse("").startsWith("text/event-stream");
            try (InputStream in = response.body()) {
                if (routable && streamed) {
                    relayStream(ex, response.statusCode(), in, clientAsked, path, tags);
                } else {
                    byte[] reply = in.readAllBytes();
                    byte[] out = reply;
                    boolean json = false;
                    if (routable && response.statusCode() / 100 == 2) {
                        try {
                            List<RoutedFields.Field> fields = RoutedFields.find(reply, 0, reply.length);
                            json = true;
                            if (!clientAsked && !fields.isEmpty()) {
                                out = RoutedFields.remove(reply, 0, reply.length, fields);
                            }
                        } catch (IOException notJson) {
                            report("the engine's reply to " + path + " is not JSON: " + notJson.getMessage());
                        }
                    }
                    ex.sendResponseHeaders(response.statusCode(), out.length == 0 ? -1 : out.length);
                    if (out.length > 0) {
                        ex.getResponseBody().write(out);
                    }
                    ex.getResponseBody().close();
                    if (json) { // read once the client has its reply
                        publish(path, List.of(JSON.readTree(reply)), tags);
                    }
                }
            }
        }
    }

    /** Server-sent events: each event ("...\n\n") forwarded as soon as it is whole, routed fields cut. */
    private void relayStream(HttpExchange ex, int status, InputStream in, boolean clientAsked, String path,
                             RequestEvents.Tags tags) throws IOException {
        ex.sendResponseHeaders(status, 0);
        OutputStream out = ex.getResponseBody();
        ByteArrayOutputStream event = new ByteArrayOutputStream();
        List<byte[]> chunks = new ArrayList<>();
        byte[] buf = new byte[8192];
        int n;
        int last = -1;
        int beforeLast = -1;
        while ((n = in.read(buf)) > 0) {
            for (int i = 0; i < n; i++) {
                byte b = buf[i];
                event.write(b);
                boolean end = b == '\n' && (last == '\n' || (last == '\r' && beforeLast == '\n'));
                beforeLast = last;
                last = b;
                if (end) {
                    out.write(relayEvent(event.toByteArray(), clientAsked, chunks));
                    event.reset();
                }
            }
            out.flush();
        }
        if (event.size() > 0) {
            out.write(relayEvent(event.toByteArray(), clientAsked, chunks));
        }
        out.close();
        if (!chunks.isEmpty()) {
            List<JsonNode> nodes = new ArrayList<>();
            for (byte[] c : chunks) {
                nodes.add(JSON.readTree(c)); // parsed once the client has its reply
            }
            publish(path, nodes, tags);
        } else {
            withoutRouted.incrementAndGet();
        }
    }

    /** One event: its data line's JSON kept when it carries routed experts (or usage), and cut from what is sent. */
    private byte[] relayEvent(byte[] event, boolean clientAsked, List<byte[]> chunks) {
        String text = new String(event, StandardCharsets.UTF_8);
        if (!text.contains("routed_experts") && !text.contains("\"usage\"")) {
            return event; // most events: nothing to read, forwarded without parsing
        }
        int data = text.startsWith("data:") ? 0 : text.indexOf("\ndata:") + 1;
        if (data < 0 || text.startsWith("data: [DONE]", data)) {
            return event;
        }
        int start = text.charAt(data + 5) == ' ' ? data + 6 : data + 5;
        int end = text.indexOf('\n', start);
        if (end < 0) {
            end = text.length();
        }
        byte[] json = text.substring(start, end).getBytes(StandardCharsets.UTF_8);
        try {
            List<RoutedFields.Field> fields = RoutedFields.find(json, 0, json.length); // fails on a non-JSON event
            chunks.add(json);
            if (fields.isEmpty() || clientAsked) {
                return event;
            }
            byte[] cut = RoutedFields.remove(json, 0, json.length, fields);
            byte[] head = text.substring(0, start).getBytes(StandardCharsets.UTF_8);
            byte[] tail = text.substring(end).getBytes(StandardCharsets.UTF_8);
            byte[] out = new byte[head.length + cut.length + tail.length];
            System.arraycopy(head, 0, out, 0, head.length);
            System.arraycopy(cut, 0, out, head.length, cut.length);
            System.arraycopy(tail, 0, out, head.length + cut.length, tail.length);
            return out;
        } catch (IOException notJson) {
            return event; // not ours to judge: forwarded as it came
        }
    }

    /** The finished request's selections, from the reply (or the stream's chunks, the last ones win). */
    private void publish(String path, List<JsonNode> replies, RequestEvents.Tags tags) {
        long now = System.currentTimeMillis();
        try {
            List<SelectionEvent> out = new ArrayList<>();
            if (path.equals("/generate")) {
                // SGLang: meta_info.routed_experts, raw int32 (prompt + completion - 1, layers, k); a batch reply is an array
                JsonNode lastMeta = null;
                List<JsonNode> metas = new ArrayList<>();
                for (JsonNode r : replies) {
                    if (r.isArray()) {
                        r.forEach(x -> metas.add(x.path("meta_info")));
                    } else {
                        metas.add(r.path("meta_info"));
                    }
                }
                boolean any = false;
                for (JsonNode meta : metas) {
                    if (meta.hasNonNull("routed_experts")) {
                        lastMeta = meta;
                        if (replies.size() == 1) { // not streamed: every element is a request of its own
                            out.addAll(sglangRequest(meta, tags, now));
                            any = true;
                        }
                    }
                }
                if (!any && lastMeta != null) {
                    out.addAll(sglangRequest(lastMeta, tags, now));
                    any = true;
                }
                if (!any) {
                    withoutRouted.incrementAndGet();
                    return;
                }
            } else {
                JsonNode reply = replies.get(replies.size() - 1);
                JsonNode usage = null;
                for (JsonNode r : replies) {
                    if (r.hasNonNull("usage")) {
                        usage = r.get("usage");
                    }
                }
                int prompt = usage == null ? -1 : usage.path("prompt_tokens").asInt(-1);
                RoutedExperts.Rows promptRows = null;
                String promptB64 = reply.path("prompt_routed_experts").asText(null);
                if (promptB64 != null && options.engine() == Engine.VLLM) {
                    promptRows = RoutedExperts.npy(promptB64);
                }
                boolean any = false;
                for (JsonNode choice : reply.path("choices")) {
                    String b64 = choice.hasNonNull("routed_experts") ? choice.get("routed_experts").asText()
                            : choice.path("sglext").hasNonNull("routed_experts")
                            ? choice.path("sglext").get("routed_experts").asText() : null;
                    if (b64 == null) {
                        continue;
                    }
                    if (prompt <= 0) {
                        throw new RoutedExperts.BadRoutedExperts("the reply's usage gives no prompt_tokens, so the routed"
                                + " experts cannot be split into prefill and decode");
                    }
                    RoutedExperts.Rows rows;
                    if (options.engine() == Engine.VLLM) {
                        rows = RoutedExperts.npy(b64);
                        if (promptRows != null) {
                            rows = concat(promptRows, rows);
                        }
                    } else {
                        int completion = usage.path("completion_tokens").asInt(0);
                        rows = RoutedExperts.sglang(b64, prompt + completion - 1, options.model().numLayers(),
                                options.model().topK());
                    }
                    String id = reply.path("id").asText("r" + requestIds.incrementAndGet())
                            + (reply.path("choices").size() > 1 ? "-" + choice.path("index").asInt() : "");
                    out.addAll(RequestEvents.build(options.model(), options.physicalToLogical(), options.source(),
                            options.source() + "/" + id, prompt, rows, tags, passIds, now));
                    any = true;
                }
                if (!any) {
                    withoutRouted.incrementAndGet();
                    return;
                }
            }
            publish.accept(out);
            published.incrementAndGet();
            events.addAndGet(out.size());
        } catch (RoutedExperts.BadRoutedExperts | RuntimeException e) {
            report(e.getMessage());
        }
    }

    private List<SelectionEvent> sglangRequest(JsonNode meta, RequestEvents.Tags tags, long now)
            throws RoutedExperts.BadRoutedExperts {
        int prompt = meta.path("prompt_tokens").asInt(-1);
        int completion = meta.path("completion_tokens").asInt(-1);
        if (prompt <= 0 || completion < 0) {
            throw new RoutedExperts.BadRoutedExperts("meta_info lacks prompt_tokens or completion_tokens");
        }
        // a request that ends at its prefill (completion 1) has prompt rows only
        int tokens = prompt + Math.max(completion, 1) - 1;
        RoutedExperts.Rows rows = RoutedExperts.sglang(meta.get("routed_experts").asText(), tokens,
                options.model().numLayers(), options.model().topK());
        String id = meta.hasNonNull("id") ? meta.get("id").asText() : "r" + requestIds.incrementAndGet();
        return RequestEvents.build(options.model(), options.physicalToLogical(), options.source(),
                options.source() + "/" + id, prompt, rows, tags, passIds, now);
    }

    private static RoutedExperts.Rows concat(RoutedExperts.Rows a, RoutedExperts.Rows b)
            throws RoutedExperts.BadRoutedExperts {
        if (a.layers() != b.layers() || a.k() != b.k()) {
            throw new RoutedExperts.BadRoutedExperts("prompt_routed_experts and routed_experts differ in shape");
        }
        int[] ids = new int[a.ids().length + b.ids().length];
        System.arraycopy(a.ids(), 0, ids, 0, a.ids().length);
        System.arraycopy(b.ids(), 0, ids, a.ids().length, b.ids().length);
        return new RoutedExperts.Rows(a.tokens() + b.tokens(), a.layers(), a.k(), ids);
    }

    private void report(String reason) {
        bad.incrementAndGet();
        log.println("proxy: a reply not published (" + bad.get() + " so far): " + reason);
    }

    /** A publisher onto moe.selections with this producer (sends are asynchronous; failures are logged). */
    public static Consumer<List<SelectionEvent>> kafka(org.apache.kafka.clients.producer.Producer<byte[], byte[]> producer,
                                                       PrintStream log) {
        var serializer = Topics.SELECTIONS.valueSerde().serializer();
        return events -> {
            for (SelectionEvent e : events) {
                producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(Topics.SELECTIONS.name(),
                        Topics.selectionKey(e).getBytes(StandardCharsets.UTF_8),
                        serializer.serialize(Topics.SELECTIONS.name(), e)), (md, ex) -> {
                            if (ex != null) {
                                log.println("proxy: a selection was not published: " + ex.getMessage());
                            }
                        });
            }
        };
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
