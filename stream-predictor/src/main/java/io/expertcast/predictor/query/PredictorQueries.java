package io.expertcast.predictor.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.predictor.DecodeSteps;
import io.expertcast.predictor.HeatmapRecords;
import io.expertcast.predictor.PredictorRole;
import io.expertcast.predictor.PredictorSettings;
import io.expertcast.predictor.PredictorTopology;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.PredictionLevel;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.RequestDecodeStep;
import io.expertcast.predictor.RequestStates;
import io.expertcast.schemas.RequestForecastState;
import io.expertcast.streams.query.AvroJson;
import io.expertcast.streams.query.QueryException;
import io.expertcast.streams.query.QueryHandler;
import io.expertcast.streams.query.QueryReply;
import io.expertcast.streams.query.QueryRequest;
import io.expertcast.streams.query.QueryServer;
import io.expertcast.streams.query.StoreRouting;
import java.util.Optional;
import java.util.Locale;
import java.util.function.Supplier;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.KeyValueIterator;

/**
 * The predictor's interactive queries (a request's heatmap, a layer's table, current accuracy;
 * docs/predictor.md), read from its state stores and routed to the instance that owns the key:
 * <ul>
 *   <li>{@code GET /requests/{requestId}} (the id may hold slashes): the request's prefill heatmap [MoE layer][expert]
 *       ({@link PredictorTopology#REQUEST_STORE}) and its decode plan and last scored step (its records in
 *       {@link PredictorTopology#REQUEST_STEPS_STORE}); 404 for a request the predictor does
 *       not hold (unknown, or ended: its state is deleted at its last step).</li>
 *   <li>{@code GET /accuracy}: current accuracy, one entry per model, predictor and workload tag (tag
 *       {@code *} = all requests), gathered from every instance; {@code GET /accuracy/{model}}: one
 *       model's entries, read on the instance that owns the model's partition
 *       ({@link PredictorTopology#ACCURACY_STORE}).</li>
 *   <li>{@code GET /tables/{model}/{moeLayer}?level=token|layer}: a layer's prediction table (Insight 2),
 *       the rows moe.prediction-tables carries, built from the layer's last published heatmap in
 *       {@link PredictorTopology#GLOBAL_HEATMAPS_STORE} (its top rows, else its whole table; a global store:
 *       answered by the instance asked).</li>
 * </ul>
 * 400 for a malformed parameter, 404 for an unknown model or layer, 503 while the application
 * rebalances or restores. Every answer names the instance that read the store ({@code servedBy}).
 */
public final class PredictorQueries {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Serializer<String> KEYS = Serdes.String().serializer();

    private final QueryServer server;
    private final StoreRouting stores;
    private final ModelCatalog catalog;
    private final int tableWidth;

    private PredictorQueries(QueryServer server, StoreRouting stores, ModelCatalog catalog, int tableWidth) {
        this.server = server;
        this.stores = stores;
        this.catalog = catalog;
        this.tableWidth = tableWidth;
    }

    /**
     * Adds the predictor's routes to {@code server} (not started here). {@code streams} may answer null
     * until the application is built: queries are 503 until then.
     */
    public static void install(QueryServer server, Supplier<KafkaStreams> streams, PredictorSettings settings) {
        PredictorQueries queries = new PredictorQueries(server, new StoreRouting(streams, server.hostInfo()),
                settings.catalog(), settings.tableWidth());
        if (settings.role() == PredictorRole.HEATMAPS) { // no request or accuracy stores here
            QueryHandler elsewhere = request -> {
                throw QueryException.notFound("this instance runs the predictor's heatmaps role: ask an instance of "
                        + "the requests (or all) role for requests and accuracy");
            };
            server.route("/requests", elsewhere).route("/accuracy", elsewhere);
        } else {
            server.route("/requests", queries::request).route("/accuracy", queries::accuracy);
        }
        server.route("/tables", queries::table)
                .route("/", queries::index);
    }

    private QueryReply index(QueryRequest request) {
        if (!request.segments().isEmpty()) {
            throw QueryException.notFound("no such endpoint; try GET /requests/{requestId}, /accuracy, "
                    + "/accuracy/{model}, /tables/{model}/{moeLayer}?level=token|layer");
        }
        ObjectNode body = NODES.objectNode();
        ArrayNode endpoints = body.putArray("endpoints");
        endpoints.add("/requests/{requestId}").add("/accuracy").add("/accuracy/{model}")
                .add("/tables/{model}/{moeLayer}?level=token|layer");
        body.put("servedBy", self());
        return QueryReply.ok(body);
    }

    private QueryReply request(QueryRequest request) {
        if (request.segments().isEmpty()) {
            throw QueryException.badRequest("expected /requests/{requestId}");
        }
        // Request ids hold slashes (model/benchmark/subject/index): the rest of the path is the id.
        String requestId = String.join("/", request.segments());
        // Whatever partitioner the engine's producer used (librdkafka's CRC32 or Java's murmur2).
        StoreRouting.Search<RequestForecastState> found =
                stores.search(PredictorTopology.REQUEST_STORE, requestId, KEYS, request, server);
        if (found instanceof StoreRouting.Search.There<RequestForecastState> there) {
            return there.reply();
        }
        if (!(found instanceof StoreRouting.Search.Here<RequestForecastState> here)) {
            throw QueryException.notFound("request " + requestId
                    + " is not in the predictor's state (unknown, or it has ended)");
        }
        RequestForecastState state = here.value();
        // The request's state holds its prefill; each scored step is a record of its own, the first with the plans.
        StoredSteps stored = stores.<String, RequestDecodeStep, StoredSteps>readPartition(
                PredictorTopology.REQUEST_STEPS_STORE, here.partition(), steps -> {
                    RequestDecodeStep first = null;
                    RequestDecodeStep latest = null;
                    try (KeyValueIterator<String, RequestDecodeStep> it =
                                 steps.prefixScan(DecodeSteps.prefix(requestId), KEYS)) {
                        while (it.hasNext()) {
                            latest = it.next().value;
                            first = first == null ? latest : first;
                        }
                    }
                    return new StoredSteps(first, latest);
                });
        return QueryReply.ok(heatmapJson(state, stored.first(), stored.last()));
    }

    /** A request's first stored decode step (with the plans) and its last; both null before any. */
    private record StoredSteps(RequestDecodeStep first, RequestDecodeStep last) {
    }

    private JsonNode heatmapJson(RequestForecastState state, RequestDecodeStep firstStep, RequestDecodeStep lastStep) {
        ObjectNode body = NODES.objectNode();
        body.put("requestId", state.getRequestId());
        body.put("model", state.getModel());
        body.put("prefillTokens", state.getPrefillTokens());
        body.put("lastScoredStep", lastStep == null ? 0 : lastStep.getStep());
        body.put("eventTimeMs", lastStep == null ? state.getEventTimeMs() : lastStep.getEventTimeMs());
        Optional<ModelShape> shape = catalog.byId(state.getModel());
        int[] counts = shape.map(m -> RequestStates.heatmap(m, state).counts())
                .orElseGet(() -> state.getHeatmap().stream().mapToInt(Integer::intValue).toArray());
        int experts = shape.map(ModelShape::numExperts).orElse(counts.length);
        ArrayNode layers = body.putArray("heatmap"); // [MoE layer][expert] prefill counts
        for (int from = 0; from + experts <= counts.length; from += experts) {
            ArrayNode row = layers.addArray();
            for (int i = from; i < from + experts; i++) {
                row.add(counts[i]);
            }
        }
        body.set("plannedExperts", plannedExperts(state, firstStep));
        body.put("servedBy", self());
        return body;
    }

    /** The blended decode plan [MoE layer][expert ids, best first], null before the first decode step. */
    private JsonNode plannedExperts(RequestForecastState state, RequestDecodeStep firstStep) {
        if (firstStep != null && firstStep.getBlendedPlan().hasRemaining()) {
            int layers = knownModel(state.getModel()).numMoeLayers();
            ArrayNode plan = NODES.arrayNode();
            for (int[] layer : DecodeSteps.decode(firstStep.getBlendedPlan(), layers)) {
                ArrayNode row = plan.addArray();
                for (int expert : layer) {
                    row.add(expert);
                }
            }
            return plan;
        }
        // A state written by an older predictor holds the plan itself.
        return AvroJson.toJson(state.getPlannedExperts());
    }

    private QueryReply accuracy(QueryRequest request) {
        if (request.segments().size() == 1) {
            // Scores are repartitioned by model: the model's partition holds all its model/predictor/tag keys.
            String model = knownModel(request.segments().get(0)).id();
            HostInfo owner = stores.ownerOf(PredictorTopology.ACCURACY_STORE, model, KEYS);
            if (!owner.equals(stores.self())) {
                return server.forward(owner, request);
            }
            ObjectNode body = NODES.objectNode();
            body.put("model", model);
            ArrayNode entries = body.putArray("predictors");
            String prefix = model + "/";
            for (KeyValue<String, PredictorMetrics> entry :
                    stores.<String, PredictorMetrics>localEntries(PredictorTopology.ACCURACY_STORE)) {
                if (entry.key.startsWith(prefix)) {
                    entries.add(AvroJson.toJson(entry.value));
                }
            }
            if (entries.isEmpty()) {
                throw QueryException.notFound("no decode step of model " + model + " scored yet on this predictor");
            }
            body.put("servedBy", self());
            return QueryReply.ok(body);
        }
        if (!request.segments().isEmpty()) {
            throw QueryException.badRequest("expected /accuracy or /accuracy/{model}");
        }
        String scope = request.param("scope", "all");
        ObjectNode body = NODES.objectNode();
        ArrayNode models = body.putArray("models");
        ArrayNode instances = body.putArray("instances");
        if (scope.equals("local") || request.forwarded()) {
            addLocalAccuracy(models);
            instances.add(self());
            return QueryReply.ok(body);
        }
        if (!scope.equals("all")) {
            throw QueryException.badRequest("scope must be all or local, got '" + scope + "'");
        }
        // Accuracy is keyed by model and spread over the instances: gather every instance's share.
        for (HostInfo host : stores.hostsOf(PredictorTopology.ACCURACY_STORE)) {
            instances.add(host.host() + ":" + host.port());
            if (host.equals(stores.self())) {
                addLocalAccuracy(models);
                continue;
            }
            QueryReply reply = server.get(host, "/accuracy?scope=local");
            if (reply.status() != 200) {
                throw new QueryException(reply.status() == 404 ? 503 : reply.status(), "instance " + host.host() + ":"
                        + host.port() + " answered " + reply.status() + ": " + reply.body().path("error").asText());
            }
            reply.body().path("models").forEach(models::add);
        }
        return QueryReply.ok(body);
    }

    private void addLocalAccuracy(ArrayNode models) {
        for (KeyValue<String, PredictorMetrics> entry :
                stores.<String, PredictorMetrics>localEntries(PredictorTopology.ACCURACY_STORE)) {
            ObjectNode model = (ObjectNode) AvroJson.toJson(entry.value);
            model.put("servedBy", self());
            models.add(model);
        }
    }

    private QueryReply table(QueryRequest request) {
        if (request.segments().size() != 2) {
            throw QueryException.badRequest("expected /tables/{model}/{moeLayer}?level=token|layer");
        }
        ModelShape shape = knownModel(request.segments().get(0));
        int layer;
        try {
            layer = Integer.parseInt(request.segments().get(1));
        } catch (NumberFormatException e) {
            throw QueryException.badRequest("MoE layer must be an integer, got '" + request.segments().get(1) + "'");
        }
        if (layer < 0 || layer >= shape.numMoeLayers()) {
            throw QueryException.notFound(shape.id() + " has MoE layers 0.." + (shape.numMoeLayers() - 1)
                    + ", not " + layer);
        }
        String level = request.param("level", "token").toUpperCase(Locale.ROOT);
        if (!level.equals("TOKEN") && !level.equals("LAYER")) {
            throw QueryException.badRequest("level must be token or layer, got '" + request.param("level", "") + "'");
        }
        PredictionLevel tableLevel = PredictionLevel.valueOf(level);
        HeatmapKind kind = tableLevel == PredictionLevel.TOKEN ? HeatmapKind.TOKEN_TO_TOKEN : HeatmapKind.LAYER_TO_LAYER;
        // The top rows go out at every publication (and keep at least the table's width), the whole table
        // only once per snapshot interval: the top rows are the fresher, the whole table the fallback.
        HeatmapSnapshot snapshot = stores.<String, byte[]>global(PredictorTopology.GLOBAL_HEATMAPS_STORE,
                        HeatmapRecords.topRowsKey(shape.id(), layer, kind))
                .or(() -> stores.<String, byte[]>global(PredictorTopology.GLOBAL_HEATMAPS_STORE,
                        HeatmapRecords.key(shape.id(), layer, kind)))
                .map(HeatmapRecords::decode)
                .orElseThrow(() -> QueryException.notFound("no " + level.toLowerCase(Locale.ROOT)
                        + "-level table published yet for " + tableKey(shape.id(), layer, level)));
        ObjectNode body = (ObjectNode) AvroJson.toJson(HeatmapRecords.table(snapshot, tableLevel, tableWidth));
        body.put("servedBy", self());
        return QueryReply.ok(body);
    }

    /** The key of a layer's table: the moe.prediction-tables key, {@code model/layer/LEVEL}. */
    public static String tableKey(String model, int moeLayer, String level) {
        return model + "/" + moeLayer + "/" + level;
    }

    private ModelShape knownModel(String id) {
        return catalog.byId(id).orElseThrow(() -> QueryException.notFound("unknown model '" + id + "'"));
    }

    private String self() {
        return stores.self().host() + ":" + stores.self().port();
    }
}
