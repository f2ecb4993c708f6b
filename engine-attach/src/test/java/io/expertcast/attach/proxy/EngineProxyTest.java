package io.expertcast.attach.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.attach.standin.EngineStandIn;
import io.expertcast.attach.standin.SimulatedEngine;
import io.expertcast.core.model.ExpertIds;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The proxy between a client and an engine stand-in (SGLang's and vLLM's documented routed-experts
 * encodings), publishing onto a real broker: the client gets the engine's bytes less the routed
 * experts, and each finished request's selections are exactly the engine's, mapped to logical ids.
 */
class EngineProxyTest {
    private static final SimulatedEngine.Shape SHAPE = SimulatedEngine.Shape.small();
    private static final ModelShape MODEL = ModelCatalog.parseShape(SHAPE.modelSpec("proxied"));
    private static final HttpClient CLIENT = HttpClient.newHttpClient();
    private static EmbeddedKafka kafka;
    private static KafkaProducer<byte[], byte[]> producer;
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();

    @BeforeAll
    static void broker() throws Exception {
        kafka = EmbeddedKafka.start();
        kafka.createTopic(Topics.SELECTIONS.name(), 1);
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true), new ByteArraySerializer(), new ByteArraySerializer());
    }

    @AfterAll
    static void stop() throws Exception {
        producer.close();
        kafka.close();
    }

    private EngineProxy proxy(EngineStandIn engine, EngineProxy.Engine kind, String source, boolean map) throws Exception {
        return new EngineProxy(new EngineProxy.Options(URI.create(engine.url()), "127.0.0.1", 0, kind, MODEL,
                map ? engine.physicalToLogical() : null, source, "X-Expertcast-Tags"),
                EngineProxy.kafka(producer, new PrintStream(log, true)), new PrintStream(log, true));
    }

    private static HttpResponse<byte[]> post(String url, String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** The selections a request must publish: the truth's rows mapped to logical ids, prefill then decode. */
    private static List<String> expected(EngineStandIn.Truth truth, int[][] map, String requestId, String tags) {
        List<String> lines = new ArrayList<>();
        int decode = truth.rows().length - truth.promptTokens();
        List<Integer> prefill = new ArrayList<>();
        for (int t = 0; t < truth.promptTokens(); t++) {
            prefill.addAll(ids(truth.rows()[t], map));
        }
        lines.add(requestId + " 0 @0+" + truth.promptTokens() + (decode == 0 ? " LAST " : " ") + prefill + " " + tags);
        for (int s = 1; s <= decode; s++) {
            lines.add(requestId + " " + s + " @0+1" + (s == decode ? " LAST " : " ")
                    + ids(truth.rows()[truth.promptTokens() + s - 1], map) + " " + tags);
        }
        return lines;
    }

    private static List<Integer> ids(int[][] row, int[][] map) {
        List<Integer> out = new ArrayList<>();
        for (int l = SHAPE.firstMoe(); l < SHAPE.layers(); l++) {
            for (int id : row[l]) {
                out.add(map == null ? id : map[l][id]);
            }
        }
        return out;
    }

    private static List<String> published(String requestId) {
        List<String> lines = new ArrayList<>();
        for (SelectionEvent e : readSelections()) {
            if (e.getRequestId().equals(requestId)) {
                byte[] b = new byte[e.getExpertIds().remaining()];
                e.getExpertIds().duplicate().get(b);
                List<Integer> ids = new ArrayList<>();
                for (int id : ExpertIds.unpack(b)) {
                    ids.add(id);
                }
                lines.add(e.getRequestId() + " " + e.getStep() + " @" + e.getTokenOffset() + "+" + e.getTokenCount()
                        + (e.getLastStep() ? " LAST " : " ") + ids + " " + e.getBenchmark() + "/" + e.getSubject() + "/"
                        + e.getLanguage());
            }
        }
        return lines;
    }

    private static List<SelectionEvent> readSelections() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        List<SelectionEvent> out = new ArrayList<>();
        producer.flush();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition tp = new TopicPartition(Topics.SELECTIONS.name(), 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long end = c.endOffsets(List.of(tp)).get(tp);
            while (c.position(tp) < end) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    out.add(Topics.SELECTIONS.valueSerde().deserializer().deserialize(Topics.SELECTIONS.name(), r.value()));
                }
            }
        }
        return out;
    }

    /** The request's published selections, waited for: the proxy publishes once the client has its reply. */
    private static void assertPublished(List<String> expected, String requestId) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        List<String> actual = published(requestId);
        while (!actual.equals(expected) && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
            actual = published(requestId);
        }
        assertEquals(expected, actual);
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition, String message) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (!condition.getAsBoolean() && System.currentTimeMillis() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(condition.getAsBoolean(), message);
    }

    private static String idOf(String prompt, boolean vllm) {
        return (vllm ? "cmpl-" : "") + Integer.toHexString(prompt.hashCode());
    }

    @Test
    void sglangGenerateStreamedAndNot() throws Exception {
        try (EngineStandIn engine = new EngineStandIn(EngineStandIn.Flavor.SGLANG, SHAPE, 0);
             EngineProxy proxy = proxy(engine, EngineProxy.Engine.SGLANG, "sg", true)) {
            String url = "http://127.0.0.1:" + proxy.port();
            String body = "{\"text\":\"the capital of France\",\"sampling_params\":{\"max_new_tokens\":5}}";
            HttpResponse<byte[]> viaProxy = post(url, "/generate", body, "X-Expertcast-Tags",
                    "benchmark=mmlu; subject=geography; language=en");
            HttpResponse<byte[]> direct = post(engine.url(), "/generate", body);
            assertEquals(200, viaProxy.statusCode());
            assertArrayEquals(direct.body(), viaProxy.body(), "the engine's bytes, less the routed experts");
            assertFalse(new String(viaProxy.body(), StandardCharsets.UTF_8).contains("routed_experts"));
            String id = idOf("the capital of France", false);
            assertPublished(expected(engine.truth(id), engine.physicalToLogical(), "sg/" + id, "mmlu/geography/en"),
                    "sg/" + id);

            // the client asked for them: it gets them
            String asks = "{\"text\":\"asks\",\"sampling_params\":{\"max_new_tokens\":3},\"return_routed_experts\":true}";
            assertArrayEquals(post(engine.url(), "/generate", asks).body(), post(url, "/generate", asks).body());

            // streamed: every event forwarded, the last one without its routed experts
            String streamed = "{\"text\":\"stream me\",\"sampling_params\":{\"max_new_tokens\":4},\"stream\":true}";
            HttpResponse<byte[]> s = post(url, "/generate", streamed);
            assertArrayEquals(post(engine.url(), "/generate", streamed).body(), s.body());
            String sid = idOf("stream me", false);
            assertPublished(expected(engine.truth(sid), engine.physicalToLogical(), "sg/" + sid, "null/null/null"),
                    "sg/" + sid);
            assertEquals(0, proxy.stats().badReplies(), log.toString());
        }
    }

    @Test
    void vllmCompletionsWholeAndChatSplitAndAStreamWithoutRoutedExperts() throws Exception {
        try (EngineStandIn engine = new EngineStandIn(EngineStandIn.Flavor.VLLM, SHAPE, 0);
             EngineProxy proxy = proxy(engine, EngineProxy.Engine.VLLM, "vl", false)) {
            String url = "http://127.0.0.1:" + proxy.port();
            String completion = "{\"model\":\"m\",\"prompt\":\"one two\",\"max_tokens\":4}";
            HttpResponse<byte[]> c = post(url, "/v1/completions", completion);
            String direct = new String(post(engine.url(), "/v1/completions", completion).body(), StandardCharsets.UTF_8);
            // vLLM returns routed experts unasked: the client gets the reply with the field cut out
            assertEquals(direct.replaceAll(",\"routed_experts\":\"[^\"]*\"", ""), new String(c.body(), StandardCharsets.UTF_8));
            String cid = idOf("one two", true);
            assertPublished(expected(engine.truth(cid), null, "vl/" + cid, "null/null/null"), "vl/" + cid);

            String chat = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}";
            HttpResponse<byte[]> ch = post(url, "/v1/chat/completions", chat, "X-Expertcast-Tags", "language=de");
            String directChat = new String(post(engine.url(), "/v1/chat/completions", chat).body(), StandardCharsets.UTF_8);
            assertEquals(directChat.replaceAll(",\"(prompt_)?routed_experts\":\"[^\"]*\"", ""),
                    new String(ch.body(), StandardCharsets.UTF_8));
            String chatId = idOf("[{\"role\":\"user\",\"content\":\"hi\"}]", true);
            assertPublished(expected(engine.truth(chatId), null, "vl/" + chatId, "null/null/de"), "vl/" + chatId);

            String streamed = "{\"model\":\"m\",\"prompt\":\"s\",\"max_tokens\":3,\"stream\":true}";
            assertArrayEquals(post(engine.url(), "/v1/completions", streamed).body(),
                    post(url, "/v1/completions", streamed).body());
            // (the proxy counts after the client has its last byte)
            awaitTrue(() -> proxy.stats().withoutRoutedExperts() == 1, "vLLM streams carry no routed experts");
            assertEquals(2, proxy.stats().published());
        }
    }

    @Test
    void badRepliesAreCountedAndTheClientStillGetsTheEnginesReply() throws Exception {
        try (EngineStandIn engine = new EngineStandIn(EngineStandIn.Flavor.SGLANG, SHAPE, 0);
             EngineProxy proxy = proxy(engine, EngineProxy.Engine.SGLANG, "bad", true)) {
            String url = "http://127.0.0.1:" + proxy.port();
            String body = "{\"text\":\"faulty\",\"sampling_params\":{\"max_new_tokens\":2}}";
            HttpResponse<byte[]> notJson = post(url, "/generate", body, "X-Standin-Fault", "not-json");
            assertEquals("Internal error: <html>oops</html>", new String(notJson.body(), StandardCharsets.UTF_8));
            HttpResponse<byte[]> wrong = post(url, "/generate", body, "X-Standin-Fault", "wrong-length");
            assertArrayEquals(post(engine.url(), "/generate", body).body(), wrong.body());
            HttpResponse<byte[]> outside = post(url, "/generate", body, "X-Standin-Fault", "outside-map");
            assertEquals(200, outside.statusCode());
            awaitTrue(() -> proxy.stats().badReplies() == 3, log.toString());
            assertTrue(log.toString().contains("not JSON"), log.toString());
            assertTrue(log.toString().contains("bytes;"), log.toString());
            assertTrue(log.toString().contains("outside the physical-to-logical map"), log.toString());
            assertEquals(List.of(), published("bad/" + idOf("faulty", false)));
            // the engine is down: the client gets a 502 naming it
            engine.close();
            assertEquals(502, post(url, "/generate", body).statusCode());
        }
    }
}
