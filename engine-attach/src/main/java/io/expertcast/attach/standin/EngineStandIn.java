package io.expertcast.attach.standin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A stand-in for an SGLang or vLLM server's generation endpoints, for the proxy's tests and
 * benchmark. It is NOT an engine: no model runs, the text is filler and the expert ids are drawn at
 * random (deterministically from the prompt, so the same request gets the same bytes). What it
 * copies is how each engine returns routed experts: SGLang's {@code /generate} puts them in
 * {@code meta_info.routed_experts} as base64 of raw int32 (tokens, layers, k) when the request sets
 * {@code return_routed_experts} (streamed: in the last event); vLLM's {@code /v1/completions} has
 * {@code choices[i].routed_experts} as base64 .npy of the whole sequence, {@code /v1/chat/completions}
 * the prompt's part split off into {@code prompt_routed_experts}, and streamed replies carry none.
 * Header {@code X-Standin-Fault}: {@code not-json}, {@code wrong-length} or {@code outside-map}.
 */
public final class EngineStandIn implements AutoCloseable {
    public enum Flavor { SGLANG, VLLM }

    /** What a request's routed experts were: prompt length and [token][layer][k] physical ids. */
    public record Truth(int promptTokens, int[][][] rows) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final Flavor flavor;
    private final SimulatedEngine.Shape shape;
    private final int physicalSlots;
    private final long chunkDelayMicros;
    private final HttpServer server;
    private final ExecutorService threads;
    private final Map<String, Truth> truth = new ConcurrentHashMap<>();

    /** @param chunkDelayMicros pause before each streamed event (0: none) */
    public EngineStandIn(Flavor flavor, SimulatedEngine.Shape shape, long chunkDelayMicros) throws IOException {
        this.flavor = flavor;
        this.shape = shape;
        this.physicalSlots = shape.logical() + shape.replicas();
        this.chunkDelayMicros = chunkDelayMicros;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 256);
        threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "engine-stand-in");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        server.createContext("/", this::route);
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** The physical-to-logical map its ids use: logical 0..E-1, then replicas of 0, 1, ... */
    public int[][] physicalToLogical() {
        int[][] map = new int[shape.layers()][physicalSlots];
        for (int[] row : map) {
            for (int p = 0; p < physicalSlots; p++) {
                row[p] = p < shape.logical() ? p : (p - shape.logical()) % shape.logical();
            }
        }
        return map;
    }

    public Truth truth(String id) {
        return truth.get(id);
    }

    private void route(HttpExchange ex) throws IOException {
        try (ex) {
            JsonNode req = JSON.readTree(ex.getRequestBody().readAllBytes());
            String fault = ex.getRequestHeaders().getFirst("X-Standin-Fault");
            // X-Standin-Stamp: streamed events carry the System.nanoTime() they were sent at (the benchmark's clock)
            boolean stamp = ex.getRequestHeaders().getFirst("X-Standin-Stamp") != null;
            String prompt = req.has("text") ? req.get("text").asText() : req.has("prompt") ? req.get("prompt").asText()
                    : req.path("messages").toString();
            int maxTokens = req.path("sampling_params").path("max_new_tokens").asInt(req.path("max_tokens").asInt(4));
            boolean stream = req.path("stream").asBoolean(false);
            boolean routed = flavor == Flavor.VLLM || req.path("return_routed_experts").asBoolean(false);
            Random rng = new Random(prompt.hashCode());
            int promptTokens = 3 + Math.floorMod(prompt.hashCode(), 9);
            String id = (flavor == Flavor.SGLANG ? "" : "cmpl-") + Integer.toHexString(prompt.hashCode());
            int total = promptTokens + maxTokens - 1;
            int[][][] rows = new int[total][shape.layers()][shape.topK()];
            for (int t = 0; t < total; t++) {
                for (int l = shape.firstMoe(); l < shape.layers(); l++) {
                    int[] pool = new int[shape.logical()];
                    for (int e = 0; e < pool.length; e++) {
                        pool[e] = e;
                    }
                    for (int a = 0; a < shape.topK(); a++) {
                        int pick = a + rng.nextInt(pool.length - a); // partial Fisher-Yates: k distinct experts
                        int logical = pool[pick];
                        pool[pick] = pool[a];
                        pool[a] = logical;
                        int replica = logical < shape.replicas() && rng.nextBoolean() ? shape.logical() + logical : logical;
                        rows[t][l][a] = flavor == Flavor.SGLANG ? replica : logical;
                    }
                }
            }
            if ("outside-map".equals(fault)) {
                rows[0][shape.firstMoe()][0] = physicalSlots + 5;
            }
            truth.put(id, new Truth(promptTokens, rows));
            String path = ex.getRequestURI().getPath();
            if ("not-json".equals(fault)) {
                send(ex, 200, "application/json", "Internal error: <html>oops</html>");
                return;
            }
            int rowsSent = "wrong-length".equals(fault) ? total - 1 : total;
            if (flavor == Flavor.SGLANG && path.equals("/generate")) {
                if (stream) {
                    ex.getResponseHeaders().set("Content-Type", "text/event-stream");
                    ex.sendResponseHeaders(200, 0);
                    OutputStream out = ex.getResponseBody();
                    StringBuilder text = new StringBuilder();
                    for (int i = 1; i <= maxTokens; i++) {
                        pause();
                        text.append(" w").append(i);
                        String meta = "{\"id\":\"" + id + "\",\"finish_reason\":" + (i == maxTokens
                                ? "{\"type\":\"length\",\"length\":" + maxTokens + "}" : "null") + ",\"prompt_tokens\":"
                                + promptTokens + ",\"completion_tokens\":" + i + ",\"cached_tokens\":0"
                                + (stamp ? ",\"sent_at_ns\":" + System.nanoTime() : "")
                                + (i == maxTokens && routed ? ",\"routed_experts\":\"" + raw(rows, rowsSent) + "\"" : "") + "}";
                        out.write(("data: {\"text\":\"" + text + "\",\"output_ids\":[" + i + "],\"meta_info\":" + meta
                                + "}\n\n").getBytes(StandardCharsets.UTF_8));
                        out.flush();
                    }
                    out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
                    out.close();
                    return;
                }
                String meta = "{\"id\":\"" + id + "\",\"finish_reason\":{\"type\":\"length\",\"length\":" + maxTokens
                        + "},\"prompt_tokens\":" + promptTokens + ",\"completion_tokens\":" + maxTokens
                        + ",\"cached_tokens\":0,\"e2e_latency\":0.0125"
                        + (routed ? ",\"routed_experts\":\"" + raw(rows, rowsSent) + "\"" : "") + "}";
                send(ex, 200, "application/json", "{\"text\":\"" + " w".repeat(maxTokens) + "\",\"output_ids\":[1,2],"
                        + "\"meta_info\":" + meta + "}");
                return;
            }
            boolean chat = path.equals("/v1/chat/completions");
            String usage = "{\"prompt_tokens\":" + promptTokens + ",\"total_tokens\":" + (promptTokens + maxTokens)
                    + ",\"completion_tokens\":" + maxTokens + ",\"prompt_tokens_details\":null}";
            if (stream) {
                ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
                ex.sendResponseHeaders(200, 0);
                OutputStream out = ex.getResponseBody();
                for (int i = 1; i <= maxTokens; i++) {
                    pause();
                    String delta = chat ? "\"delta\":{\"content\":\" w" + i + "\"}" : "\"text\":\" w" + i + "\"";
                    out.write(("data: {\"id\":\"" + id + "\",\"object\":\"" + (chat ? "chat.completion.chunk" : "text_completion")
                            + "\",\"created\":1,\"model\":\"m\"" + (stamp ? ",\"sent_at_ns\":" + System.nanoTime() : "")
                            + ",\"choices\":[{\"index\":0,"
                            + delta + ",\"logprobs\":null,\"finish_reason\":" + (i == maxTokens ? "\"length\"" : "null")
                            + "}]}\n\n").getBytes(StandardCharsets.UTF_8));
                    out.flush();
                }
                out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
                out.close();
                return;
            }
            String choice;
            String top = "";
            if (chat) {
                choice = "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" + " w".repeat(maxTokens)
                        + "\",\"refusal\":null,\"tool_calls\":[]},\"logprobs\":null,\"finish_reason\":\"length\",\"stop_reason\":null,"
                        + "\"token_ids\":null,\"routed_experts\":\"" + npy(rows, promptTokens, rowsSent) + "\"}";
                top = ",\"prompt_routed_experts\":\"" + npy(rows, 0, promptTokens) + "\"";
            } else {
                choice = "{\"index\":0,\"text\":\"" + " w".repeat(maxTokens) + "\",\"logprobs\":null,\"finish_reason\":"
                        + "\"length\",\"stop_reason\":null,\"prompt_logprobs\":null,\"routed_experts\":\""
                        + npy(rows, 0, rowsSent) + "\"}";
            }
            send(ex, 200, "application/json", "{\"id\":\"" + id + "\",\"object\":\"" + (chat ? "chat.completion"
                    : "text_completion") + "\",\"created\":1700000000,\"model\":\"m\",\"choices\":[" + choice + "],"
                    + "\"usage\":" + usage + top + ",\"kv_transfer_params\":null}");
        }
    }

    private void pause() {
        if (chunkDelayMicros > 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(chunkDelayMicros * 1000);
        }
    }

    /** SGLang: base64 of int32 little-endian, C order. */
    private String raw(int[][][] rows, int count) {
        ByteBuffer b = ByteBuffer.allocate(count * shape.layers() * shape.topK() * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int t = 0; t < count; t++) {
            for (int[] layer : rows[t]) {
                for (int id : layer) {
                    b.putInt(id);
                }
            }
        }
        return Base64.getEncoder().encodeToString(b.array());
    }

    /** vLLM: base64 of an .npy (version 1.0) holding rows[from, to) as uint16 (tokens, layers, k). */
    private String npy(int[][][] rows, int from, int to) {
        String header = "{'descr': '<u2', 'fortran_order': False, 'shape': (" + (to - from) + ", " + shape.layers() + ", "
                + shape.topK() + "), }";
        int pad = 64 - (10 + header.length() + 1) % 64;
        header = header + " ".repeat(pad % 64) + "\n";
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x93);
        out.writeBytes("NUMPY".getBytes(StandardCharsets.US_ASCII));
        out.write(1);
        out.write(0);
        out.write(header.length() & 0xFF);
        out.write(header.length() >>> 8);
        out.writeBytes(header.getBytes(StandardCharsets.US_ASCII));
        ByteBuffer b = ByteBuffer.allocate((to - from) * shape.layers() * shape.topK() * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int t = from; t < to; t++) {
            for (int[] layer : rows[t]) {
                for (int id : layer) {
                    b.putShort((short) id);
                }
            }
        }
        out.writeBytes(b.array());
        return Base64.getEncoder().encodeToString(out.toByteArray());
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
