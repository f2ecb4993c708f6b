package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.predictor.query.PredictorQueries;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.query.QueryServer;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two predictor instances of one application on a real in-JVM broker (2 partitions per topic): each
 * query is answered through either instance, read on the instance that owns the key.
 */
class PredictorQueriesIntegrationTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ModelShape LLAMA = ModelCatalog.LLAMA4_MAVERICK;
    private static EmbeddedKafka kafka;

    @TempDir
    static Path stateDir;

    @BeforeAll
    static void startBroker() throws Exception {
        kafka = EmbeddedKafka.start();
        kafka.createPipelineTopics(2);
    }

    @AfterAll
    static void stopBroker() throws Exception {
        kafka.close();
    }

    @Test
    void queriesAreRoutedToTheOwningInstanceAndErrorsHaveTheirStatus() throws Exception {
        ModelCatalog catalog = ModelCatalog.standard();
        ModelShape toy = ModelCatalog.parseShape("toy:4:all:16:2");
        catalog.register(toy);
        PredictorSettings settings = PredictorSettings.defaults().withCatalog(catalog)
                .withApplicationName("iq-test").withPublishInterval(Duration.ofMillis(200));
        Map<String, Object> overrides = Map.of(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        try (PredictorApp.Queried a = PredictorApp.startWithQueries(kafka.bootstrapServers(), stateDir.resolve("a"),
                settings, overrides, 0);
             PredictorApp.Queried b = PredictorApp.startWithQueries(kafka.bootstrapServers(), stateDir.resolve("b"),
                     settings, overrides, 0)) {
            Poll.until(Duration.ofSeconds(60), () -> eachOwnsAPartition(a.streams(), b.streams()),
                    "both instances running with one partition each");

            // Open requests (prefill + decode step 1, no last step) of two models, so state stays queryable.
            List<RequestTrace> requests = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                ModelShape shape = i % 2 == 0 ? LLAMA : toy;
                requests.add(TraceEvents.randomRequest(shape, shape.id() + "/mmlu/anatomy/" + i, 5 + i, 3, i));
            }
            try (KafkaProducer<String, SelectionEvent> producer = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()),
                    Serdes.String().serializer(), Topics.SELECTIONS.valueSerde().serializer())) {
                long pass = 0;
                for (RequestTrace r : requests) {
                    for (SelectionEvent e : List.of(TraceEvents.prefillChunk(r, 0, r.prefillTokens(), pass++),
                            TraceEvents.decodeStep(r, 1, pass++))) {
                        producer.send(new ProducerRecord<>(Topics.SELECTIONS.name(), e.getRequestId(), e)).get();
                    }
                }
            }

            // A request owned by B, asked of A, is read on B.
            String ownedByB = null;
            for (RequestTrace r : requests) {
                var owner = b.streams().queryMetadataForKey(PredictorTopology.REQUEST_STORE, r.requestId(),
                        Serdes.String().serializer()).activeHost();
                if (owner.equals(b.http().hostInfo()) && r.model() == LLAMA) {
                    ownedByB = r.requestId();
                }
            }
            assertTrue(ownedByB != null, "some llama request hashes to B's partition");
            String path = "/requests/" + ownedByB;
            // Prefill and decode step 1 both processed (the state is queryable from the prefill on).
            Poll.until(Duration.ofSeconds(30), () -> get(a, path).body.path("lastScoredStep").asInt() == 1,
                    "request state queryable, decode step 1 scored");
            JsonNode heatmap = get(a, path).body;
            assertEquals(b.http().advertisedAddress(), heatmap.get("servedBy").asText());
            assertNotEquals(a.http().advertisedAddress(), b.http().advertisedAddress());
            RequestTrace expected = requests.stream().filter(r -> r.requestId().equals(heatmap.get("requestId")
                    .asText())).findFirst().orElseThrow();
            assertEquals(LLAMA.numMoeLayers(), heatmap.get("heatmap").size());
            assertEquals(LLAMA.numExperts(), heatmap.get("heatmap").get(0).size());
            int firstLayerCount = 0;
            for (JsonNode c : heatmap.get("heatmap").get(0)) {
                firstLayerCount += c.asInt();
            }
            assertEquals(expected.prefillTokens() * LLAMA.topK(), firstLayerCount);
            assertEquals(expected.prefillTokens(), heatmap.get("prefillTokens").asInt());
            assertEquals(1, heatmap.get("lastScoredStep").asInt());
            assertEquals(LLAMA.numMoeLayers(), heatmap.get("plannedExperts").size());
            // The same answer through B itself.
            assertEquals(heatmap.get("heatmap"), get(b, path).body.get("heatmap"));

            // Accuracy of both models, gathered from both instances whichever asked.
            Poll.until(Duration.ofSeconds(30), () -> models(a).equals(Set.of(LLAMA.id(), toy.id())),
                    "accuracy of both models");
            assertEquals(Set.of(LLAMA.id(), toy.id()), models(b));
            for (String model : List.of(LLAMA.id(), toy.id())) {
                Poll.until(Duration.ofSeconds(30), () -> decodePlan(get(a, "/accuracy/" + model).body)
                        .path("requests").asLong() == 4, "decode step 1 of the four " + model + " requests scored");
                JsonNode one = get(a, "/accuracy/" + model).body;
                assertEquals(model, one.get("model").asText());
                assertEquals(4, decodePlan(one).get("requests").asLong());
                assertEquals(4L * (model.equals(toy.id()) ? toy.numMoeLayers() : LLAMA.numMoeLayers()),
                        decodePlan(one).get("samples").asLong());
                assertEquals(one.get("predictors"), get(b, "/accuracy/" + model).body.get("predictors"));
            }

            // A layer's prediction tables (Insight 2), from the global heatmaps: every instance answers itself.
            for (String level : List.of("token", "layer")) {
                String tablePath = "/tables/" + LLAMA.id() + "/3?level=" + level;
                Poll.until(Duration.ofSeconds(30), () -> status(b, tablePath) == 200, level + "-level table published");
                JsonNode table = get(b, tablePath).body;
                assertEquals(b.http().advertisedAddress(), table.get("servedBy").asText());
                assertEquals(level.toUpperCase(java.util.Locale.ROOT), table.get("level").asText());
                assertEquals(3, table.get("layer").asInt());
                assertTrue(table.get("rows").size() > 0, table.toString());
                JsonNode row = table.get("rows").get(0);
                assertTrue(row.get("successors").size() >= 1 && row.get("successors").size() <= settings.tableWidth());
                assertEquals(table.get("rows"), get(a, tablePath).body.get("rows"));
            }

            // Errors: unknown request 404 (answered by its owner), bad parameters 400, absent store 404.
            Response unknown = get(a, "/requests/no-such-request");
            assertEquals(404, unknown.status);
            assertTrue(unknown.body.get("error").asText().contains("no-such-request"));
            assertEquals(404, get(a, "/accuracy/gpt-moe").status);
            assertEquals(400, get(a, "/tables/" + LLAMA.id() + "/first").status);
            assertEquals(400, get(a, "/tables/" + LLAMA.id() + "/3?level=row").status);
            assertEquals(404, get(a, "/tables/" + LLAMA.id() + "/24").status);
            Response noTables = get(a, "/tables/" + toy.id() + "/3?level=layer");
            assertEquals(404, noTables.status, "the toy's last MoE layer has no next layer");
            assertTrue(noTables.body.get("error").asText().contains("no layer-level table"), noTables.body.toString());
            assertEquals(400, get(a, "/requests/").status);
            assertEquals(404, get(a, "/nothing-here").status);
            assertEquals(200, get(a, "/").status);
        }
    }

    /** While the application is not RUNNING (here: built, not started), queries are 503. */
    @Test
    void queriesOfAnApplicationThatIsNotRunningAre503() throws Exception {
        PredictorSettings settings = PredictorSettings.defaults().withApplicationName("iq-not-started");
        try (QueryServer http = QueryServer.bind(0)) {
            KafkaStreams notStarted = PredictorApp.create(kafka.bootstrapServers(), stateDir.resolve("c"), settings,
                    Map.of(StreamsConfig.APPLICATION_SERVER_CONFIG, http.advertisedAddress()));
            try {
                PredictorQueries.install(http, () -> notStarted, settings);
                http.start();
                for (String path : List.of("/requests/r1", "/accuracy", "/accuracy/" + LLAMA.id(),
                        "/tables/" + LLAMA.id() + "/0")) {
                    Response r = send(http.port(), path);
                    assertEquals(503, r.status, path + " -> " + r.body);
                }
            } finally {
                notStarted.close(Duration.ofSeconds(10));
            }
        }
    }

    /** The all-requests entry of the decode-phase plan in a /accuracy/{model} answer (missing: an empty node). */
    private static JsonNode decodePlan(JsonNode modelAccuracy) {
        for (JsonNode entry : modelAccuracy.path("predictors")) {
            if (entry.path("predictor").asText().equals("decode_plan") && entry.path("tag").asText().equals("*")) {
                return entry;
            }
        }
        return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    }

    private static boolean eachOwnsAPartition(KafkaStreams a, KafkaStreams b) {
        if (a.state() != KafkaStreams.State.RUNNING || b.state() != KafkaStreams.State.RUNNING) {
            return false;
        }
        return !a.metadataForLocalThreads().iterator().next().activeTasks().isEmpty()
                && !b.metadataForLocalThreads().iterator().next().activeTasks().isEmpty();
    }

    private static Set<String> models(PredictorApp.Queried instance) {
        Response r = get(instance, "/accuracy");
        Set<String> models = new HashSet<>();
        if (r.status == 200) {
            r.body.get("models").forEach(m -> models.add(m.get("model").asText()));
        }
        return models;
    }

    private static int status(PredictorApp.Queried instance, String path) {
        return get(instance, path).status;
    }

    private record Response(int status, JsonNode body) {
    }

    private static Response get(PredictorApp.Queried instance, String path) {
        return send(instance.http().port(), path);
    }

    private static Response send(int port, String path) {
        try {
            HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
            return new Response(response.statusCode(), JSON.readTree(response.body()));
        } catch (Exception e) {
            throw new AssertionError("GET " + path + " failed", e);
        }
    }
}
