package io.expertcast.predictor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.DecodePlan;
import io.expertcast.core.predict.DecodePlanEvaluator;
import io.expertcast.core.predict.DecodePlanner;
import io.expertcast.core.predict.PrefillHeatmap;
import io.expertcast.core.predict.RecallAtN;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.LayerSelections;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchPredictions;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.RequestDecodeStep;
import io.expertcast.schemas.RequestForecastState;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.StreamsSettings;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PredictorTopologyTest {
    /** 4 MoE layers, 32 experts, k = 4: small, but k > 1 so a plan can half-hit a row. */
    private static final ModelShape TOY = new ModelShape("toy-moe", 4, new int[] {0, 1, 2, 3}, 32, 4, 64, 64, 2.0);
    private static final int N = 6;
    private static final Duration INTERVAL = Duration.ofMillis(500);

    @TempDir
    Path stateDir;

    private final PredictorSettings settings = PredictorSettings.defaults()
            .withCatalog(ModelCatalog.standard().register(TOY)).withN(N).withPublishInterval(INTERVAL)
            .withApplicationName("predictor-test").withHeatmapHalfLifeTokens(0);
    private TopologyTestDriver driver;
    private TestInputTopic<String, SelectionEvent> selections;
    private TestOutputTopic<String, PrefetchCommand> prefetch;
    private TestOutputTopic<String, PredictorMetrics> metrics;
    private TestOutputTopic<byte[], DeadLetter> deadLetters;

    @BeforeEach
    void startDriver() {
        StreamsBuilder builder = new StreamsBuilder();
        PredictorTopology.build(builder, settings);
        driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base(settings.applicationName(), "unused:9092", stateDir, Map.of()));
        createTopics();
    }

    /**
     * Closes the driver and starts another one of application {@code applicationName}, state in a
     * directory of its own, with at most {@code liveRequests} decoding requests per task in memory.
     */
    private void restartDriver(String applicationName, int liveRequests) {
        restartDriver(applicationName, liveRequests, true);
    }

    /** As above; {@code compactPrefill} false stores every prefill dense. */
    private void restartDriver(String applicationName, int liveRequests, boolean compactPrefill) {
        driver.close();
        StreamsBuilder builder = new StreamsBuilder();
        PredictorTopology.build(builder, settings, liveRequests, compactPrefill);
        driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base(applicationName, "unused:9092", stateDir.resolve(applicationName), Map.of()));
        createTopics();
    }

    private void createTopics() {
        selections = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                Topics.SELECTIONS.valueSerde().serializer());
        prefetch = driver.createOutputTopic(Topics.PREFETCH.name(), Topics.PREFETCH.keySerde().deserializer(),
                Topics.PREFETCH.valueSerde().deserializer());
        metrics = driver.createOutputTopic(Topics.PREDICTOR_METRICS.name(),
                Topics.PREDICTOR_METRICS.keySerde().deserializer(), Topics.PREDICTOR_METRICS.valueSerde().deserializer());
        deadLetters = driver.createOutputTopic(Topics.DEAD_LETTER.name(), Topics.DEAD_LETTER.keySerde().deserializer(),
                Topics.DEAD_LETTER.valueSerde().deserializer());
    }

    @AfterEach
    void closeDriver() {
        driver.close();
    }

    private void pipe(List<SelectionEvent> events) {
        for (SelectionEvent e : events) {
            selections.pipeInput(e.getRequestId(), e);
        }
    }

    private static void assertSameAsEvaluator(RecallAtN expected, PredictorMetrics published) {
        assertEquals(TOY.id(), published.getModel());
        assertEquals("decode_plan_prefill_only", published.getPredictor());
        assertEquals("*", published.getTag());
        assertEquals(N, published.getN());
        assertEquals(expected.samples(), published.getSamples());
        assertEquals(expected.hits(), published.getHits());
        assertEquals(expected.selected(), published.getSelected());
        assertEquals(expected.requests(), published.getRequests());
        assertEquals(expected.recall(), published.getRecall(), 0.0);
    }

    /** The latest published value of each metrics key. */
    /**
     * The request side hands its batches of scores and heatmap lessons on, then the aggregators publish:
     * two wall-clock schedules, in that order.
     */
    /** Hands the request side's batches on, then lets {@code publication} go by, a heatmap tick at a time. */
    private void handOnAndPublish(java.time.Duration publication) {
        driver.advanceWallClockTime(RequestForecastProcessor.BATCH_INTERVAL);
        for (int slice = 0; slice < LayerHeatmapProcessor.PUBLICATION_SLICES; slice++) {
            driver.advanceWallClockTime(publication.dividedBy(LayerHeatmapProcessor.PUBLICATION_SLICES));
        }
    }

    /** The same keys, and under each the same hits, samples, per-layer hits and Spearman sums. */
    private static void assertSameScores(Map<String, PredictorMetrics> expected, Map<String, PredictorMetrics> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((key, m) -> {
            PredictorMetrics r = actual.get(key);
            assertEquals(m.getHits(), r.getHits(), key);
            assertEquals(m.getSamples(), r.getSamples(), key);
            assertEquals(m.getLayerHits(), r.getLayerHits(), key);
            assertEquals(m.getLayerSpearmanSum(), r.getLayerSpearmanSum(), key);
        });
    }

    private Map<String, PredictorMetrics> latestMetrics() {
        Map<String, PredictorMetrics> latest = new java.util.TreeMap<>();
        metrics.readKeyValuesToList().forEach(kv -> latest.put(kv.key, kv.value));
        return latest;
    }

    private static final String PREFILL_ONLY = TOY.id() + "/decode_plan_prefill_only/*";

    private boolean requestStoreIsEmpty() {
        KeyValueStore<String, RequestForecastState> store = driver.getKeyValueStore(PredictorTopology.REQUEST_STORE);
        KeyValueStore<String, RequestDecodeStep> steps = driver.getKeyValueStore(PredictorTopology.REQUEST_STEPS_STORE);
        try (KeyValueIterator<String, RequestForecastState> all = store.all();
             KeyValueIterator<String, RequestDecodeStep> allSteps = steps.all()) {
            return !all.hasNext() && !allSteps.hasNext();
        }
    }

    /**
     * A decoding request's state lives in memory and is rebuilt from the stores (its state at the first
     * decode step, then its stored steps replayed) after a restart, a rebalance or an eviction: with one
     * request in memory, interleaved requests are rebuilt at every step, and every command and score must
     * be the very same as with all of them in memory.
     */
    @Test
    void requestsRebuiltFromTheStoresAtEveryStepPredictExactlyTheSame() {
        List<RequestTrace> requests = List.of(
                TraceEvents.randomRequest(TOY, "toy/a", 7, 9, 11),
                TraceEvents.randomRequest(TOY, "toy/b", 3, 6, 12),
                TraceEvents.randomRequest(TOY, "toy/c", 5, 8, 13));
        List<SelectionEvent> events = TraceEvents.lockstep(requests, 3);
        pipe(events);
        handOnAndPublish(INTERVAL);
        List<PrefetchCommand> inMemory = prefetch.readValuesToList();
        Map<String, PredictorMetrics> inMemoryMetrics = latestMetrics();

        restartDriver(settings.applicationName() + "-rebuilt", 1);
        pipe(events);
        handOnAndPublish(INTERVAL);
        List<PrefetchCommand> rebuilt = prefetch.readValuesToList();
        assertEquals(8 + 5 + 7, rebuilt.stream().filter(c -> c.getScope() == PrefetchScope.NEXT_TOKEN).count());
        assertEquals(inMemory, rebuilt);
        assertSameScores(inMemoryMetrics, latestMetrics());
        assertTrue(requestStoreIsEmpty(), "every request's state and steps are deleted after its last step");
    }

    /**
     * A short prefill is stored as its tokens' ids, the heatmap and history counted again when read; a long one
     * (here past 48 tokens, where the ids would take more bytes than the dense cells) dense. Every command and
     * score equals those of a predictor that stores every prefill dense, with one request in memory so that
     * every step rebuilds from the stores.
     */
    @Test
    void aShortPrefillStoredAsItsIdsPredictsExactlyAsTheDenseState() {
        List<RequestTrace> requests = List.of(
                TraceEvents.randomRequest(TOY, "toy/a", 7, 9, 41),
                TraceEvents.randomRequest(TOY, "toy/b", 60, 6, 42),
                TraceEvents.randomRequest(TOY, "toy/c", 5, 8, 43));
        List<SelectionEvent> events = TraceEvents.lockstep(requests, 3);
        Map<String, Integer> idBytes = new java.util.TreeMap<>();
        restartDriver(settings.applicationName() + "-ids", 1, true);
        KeyValueStore<String, RequestForecastState> store = driver.getKeyValueStore(PredictorTopology.REQUEST_STORE);
        for (SelectionEvent e : events) {
            selections.pipeInput(e.getRequestId(), e);
            RequestForecastState state = store.get(e.getRequestId());
            if (state != null) {
                idBytes.put(e.getRequestId(), state.getPrefillIds().remaining());
                assertEquals(state.getPrefillIds().hasRemaining(), state.getHeatmap().isEmpty());
            }
        }
        handOnAndPublish(INTERVAL);
        List<PrefetchCommand> fromIds = prefetch.readValuesToList();
        Map<String, PredictorMetrics> fromIdsMetrics = latestMetrics();
        assertEquals(Map.of("toy/a", 7 * 4 * 4 * 2, "toy/b", 0, "toy/c", 5 * 4 * 4 * 2), idBytes,
                "ids (uint16) for the short prefills, dense for the long one");

        restartDriver(settings.applicationName() + "-dense", 1, false);
        pipe(events);
        handOnAndPublish(INTERVAL);
        assertEquals(fromIds, prefetch.readValuesToList());
        assertSameScores(fromIdsMetrics, latestMetrics());
    }

    /**
     * A request's large state (prefill heatmap, history) is written by its prefill chunks only: its decode
     * steps never rewrite it (the first used to, to add the plans); the plans ride on the first step's
     * record. With one request in memory, so that every step rebuilds from the stores, and commands the
     * same as with all requests in memory.
     */
    @Test
    void theRequestStateIsWrittenByPrefillOnlyAndTheFirstStepRecordCarriesThePlans() {
        List<RequestTrace> requests = List.of(
                TraceEvents.randomRequest(TOY, "toy/a", 7, 5, 31),
                TraceEvents.randomRequest(TOY, "toy/b", 5, 3, 32));
        List<SelectionEvent> events = TraceEvents.lockstep(requests, 3);
        pipe(events);
        List<PrefetchCommand> inMemory = prefetch.readValuesToList();

        String application = settings.applicationName() + "-once";
        restartDriver(application, 1);
        TestOutputTopic<String, byte[]> stateChangelog = driver.createOutputTopic(
                application + "-" + PredictorTopology.REQUEST_STORE + "-changelog",
                new org.apache.kafka.common.serialization.StringDeserializer(),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer());
        KeyValueStore<String, RequestForecastState> store = driver.getKeyValueStore(PredictorTopology.REQUEST_STORE);
        KeyValueStore<String, RequestDecodeStep> steps = driver.getKeyValueStore(PredictorTopology.REQUEST_STEPS_STORE);
        var stateSerializer = SerdeFactory.defaultFactory().serde(RequestForecastState.class).serializer();
        Map<String, byte[]> writtenByPrefill = new java.util.HashMap<>();
        for (SelectionEvent e : events) {
            selections.pipeInput(e.getRequestId(), e);
            var written = stateChangelog.readKeyValuesToList();
            String id = e.getRequestId();
            if (e.getPhase() == io.expertcast.schemas.Phase.PREFILL) {
                assertEquals(1, written.size(), "each prefill chunk writes the state once");
                writtenByPrefill.put(id, written.get(0).value);
            } else if (!e.getLastStep()) {
                assertEquals(List.of(), written, "decode step " + e.getStep() + " of " + id + " rewrote the state");
                assertArrayEquals(writtenByPrefill.get(id), stateSerializer.serialize("t", store.get(id)),
                        "the stored state is byte for byte what the last prefill chunk wrote");
            } else {
                assertEquals(1, written.size(), "the last step deletes the state");
                assertEquals(null, written.get(0).value);
            }
            if (e.getPhase() == io.expertcast.schemas.Phase.DECODE && !e.getLastStep()) {
                RequestDecodeStep stored = steps.get(DecodeSteps.key(id, e.getStep()));
                assertEquals(e.getStep() == 1, stored.getBlendedPlan().hasRemaining(), "only step 1 has the plans");
                assertEquals(e.getStep() == 1, stored.getPrefillOnlyPlan().hasRemaining());
            }
            if (e.getPhase() == io.expertcast.schemas.Phase.DECODE && e.getStep() == 1) {
                // The plans stored are the DECODE_PHASE command's and the prefill-only baseline's.
                RequestTrace trace = requests.stream().filter(r -> r.requestId().equals(id)).findFirst().orElseThrow();
                RequestDecodeStep first = steps.get(DecodeSteps.key(id, 1));
                int[][] blended = DecodeSteps.decode(first.getBlendedPlan(), TOY.numMoeLayers());
                PrefetchCommand command = inMemory.stream().filter(c -> c.getRequestId().equals(id)
                        && c.getScope() == PrefetchScope.DECODE_PHASE).findFirst().orElseThrow();
                PrefillHeatmap prefill = new PrefillHeatmap(TOY.numMoeLayers(), TOY.numExperts(), TOY.topK());
                prefill.add(trace.steps().get(0));
                DecodePlan prefillOnly = new DecodePlanner(N).plan(prefill);
                int[][] storedPrefillOnly = DecodeSteps.decode(first.getPrefillOnlyPlan(), TOY.numMoeLayers());
                for (int l = 0; l < TOY.numMoeLayers(); l++) {
                    assertEquals(experts(command, l), Arrays.stream(blended[l]).boxed().toList());
                    assertArrayEquals(prefillOnly.experts(l), storedPrefillOnly[l]);
                }
            }
        }
        assertEquals(inMemory, prefetch.readValuesToList(), "rebuilt at every step from the stores: the same commands");
        assertTrue(requestStoreIsEmpty());
        assertTrue(deadLetters.isEmpty());
    }

    /**
     * A predictor that kept the plans in the request's state (before they moved to the first step's
     * record) left states that are still read: same commands and scores, and a prefill chunk after decode
     * began still a dead letter.
     */
    @Test
    void aStateWithThePlansWrittenByAnOlderPredictorIsStillRead() {
        List<RequestTrace> requests = List.of(
                TraceEvents.randomRequest(TOY, "toy/a", 7, 5, 41),
                TraceEvents.randomRequest(TOY, "toy/b", 5, 4, 42));
        List<SelectionEvent> events = TraceEvents.lockstep(requests, 3);
        pipe(events);
        handOnAndPublish(INTERVAL);
        List<PrefetchCommand> inMemory = prefetch.readValuesToList();
        Map<String, PredictorMetrics> inMemoryMetrics = latestMetrics();

        restartDriver(settings.applicationName() + "-older", 1);
        KeyValueStore<String, RequestForecastState> store = driver.getKeyValueStore(PredictorTopology.REQUEST_STORE);
        KeyValueStore<String, RequestDecodeStep> steps = driver.getKeyValueStore(PredictorTopology.REQUEST_STEPS_STORE);
        for (SelectionEvent e : events) {
            selections.pipeInput(e.getRequestId(), e);
            if (e.getPhase() == io.expertcast.schemas.Phase.DECODE && e.getStep() == 1) {
                // What the older predictor stored: the plans in the state, a first step record without them.
                String key = DecodeSteps.key(e.getRequestId(), 1);
                RequestDecodeStep first = steps.get(key);
                RequestForecastState state = store.get(e.getRequestId());
                state.setPlannedExperts(lists(DecodeSteps.decode(first.getBlendedPlan(), TOY.numMoeLayers())));
                state.setPrefillOnlyExperts(lists(DecodeSteps.decode(first.getPrefillOnlyPlan(), TOY.numMoeLayers())));
                store.put(e.getRequestId(), state);
                steps.put(key, RequestDecodeStep.newBuilder(first).setBlendedPlan(ByteBuffer.allocate(0))
                        .setPrefillOnlyPlan(ByteBuffer.allocate(0)).build());
            }
            if (e.getRequestId().equals("toy/a") && e.getStep() == 2) { // b is not in memory: read from the stores
                RequestTrace b = requests.get(1);
                selections.pipeInput(b.requestId(), TraceEvents.prefillChunk(b, 2, 1, e.getPassId()));
            }
        }
        handOnAndPublish(INTERVAL);
        assertEquals(inMemory, prefetch.readValuesToList());
        Map<String, PredictorMetrics> rebuiltMetrics = latestMetrics();
        assertEquals(inMemoryMetrics.keySet(), rebuiltMetrics.keySet());
        inMemoryMetrics.forEach((key, m) -> {
            assertEquals(m.getHits(), rebuiltMetrics.get(key).getHits(), key);
            assertEquals(m.getRequests(), rebuiltMetrics.get(key).getRequests(), key);
        });
        List<String> reasons = deadLetters.readValuesToList().stream().map(DeadLetter::getReason).toList();
        assertEquals(1, reasons.size(), reasons.toString());
        assertTrue(reasons.get(0).contains("after decode began"), reasons.get(0));
    }

    private static List<List<Integer>> lists(int[][] arrays) {
        return Arrays.stream(arrays).map(a -> Arrays.stream(a).boxed().toList()).toList();
    }

    @Test
    void onePrefetchPerDecodingRequestAndPublishedRecallEqualsTheOfflineEvaluator() {
        List<RequestTrace> requests = List.of(
                TraceEvents.randomRequest(TOY, "toy/a", 7, 5, 1),
                TraceEvents.randomRequest(TOY, "toy/b", 3, 2, 2),
                TraceEvents.randomRequest(TOY, "toy/c", 4, 0, 3), // prefill only: no plan, no score
                TraceEvents.randomRequest(TOY, "toy/d", 1, 3, 4));
        pipe(TraceEvents.lockstep(requests, 3));

        List<PrefetchCommand> all = prefetch.readValuesToList();
        List<PrefetchCommand> commands = all.stream().filter(c -> c.getScope() == PrefetchScope.DECODE_PHASE).toList();
        assertEquals(List.of("toy/a", "toy/b", "toy/d"), commands.stream().map(PrefetchCommand::getRequestId).toList());
        for (PrefetchCommand command : commands) {
            assertEquals(MemoryTier.HBM, command.getTier());
            assertEquals(1, command.getTargetStep());
            assertEquals(TOY.numMoeLayers(), PrefetchPredictions.layers(command));
            assertEquals(N, command.getExpertsPerLayer(), "packed (v2)");
            for (int layer = 0; layer < TOY.numMoeLayers(); layer++) {
                assertEquals(layer, PrefetchPredictions.layer(command, layer));
                assertEquals(N, experts(command, layer).stream().distinct().count());
            }
        }
        // NEXT_TOKEN: one per decode step but the last, for the step after it: a 5, b 2, d 3 steps.
        List<PrefetchCommand> next = all.stream().filter(c -> c.getScope() == PrefetchScope.NEXT_TOKEN).toList();
        assertEquals(4 + 1 + 2, next.size());
        assertEquals(List.of(2, 3, 4, 5), next.stream().filter(c -> c.getRequestId().equals("toy/a"))
                .map(PrefetchCommand::getTargetStep).toList());
        // The prefetch for the first decode step is sent with the pass that carried it.
        assertEquals(TraceEvents.lockstep(requests, 3).stream()
                .filter(e -> e.getRequestId().equals("toy/a") && e.getStep() == 1).findFirst().orElseThrow().getPassId(),
                commands.get(0).getSourcePassId());

        assertTrue(metrics.isEmpty(), "published only on the wall-clock schedule");
        handOnAndPublish(INTERVAL);
        Map<String, PredictorMetrics> published = latestMetrics();
        // 3 predictors, each for all requests (*) and for their benchmark.
        assertEquals(java.util.Set.of("toy-moe/decode_plan/*", "toy-moe/decode_plan/mmlu",
                "toy-moe/decode_plan_prefill_only/*", "toy-moe/decode_plan_prefill_only/mmlu",
                "toy-moe/next_token/*", "toy-moe/next_token/mmlu"), published.keySet());
        RecallAtN expected = DecodePlanEvaluator.evaluate(requests, N);
        assertTrue(expected.recall() > 0 && expected.recall() < 1, "a recall that can tell plans apart: " + expected);
        assertSameAsEvaluator(expected, published.get(PREFILL_ONLY));
        // Per-layer figures add up to the totals.
        PredictorMetrics nextToken = published.get("toy-moe/next_token/*");
        assertEquals(nextToken.getHits(), nextToken.getLayerHits().stream().mapToLong(Long::longValue).sum());
        assertEquals(expected.samples(), nextToken.getSamples());

        handOnAndPublish(INTERVAL);
        assertTrue(metrics.isEmpty(), "unchanged totals are not published again");
        assertTrue(requestStoreIsEmpty(), "every request's state is deleted after its last step");
        assertTrue(deadLetters.isEmpty());

        // Totals are cumulative: one more request moves them to the evaluator's value on all five.
        RequestTrace e = TraceEvents.randomRequest(TOY, "toy/e", 2, 4, 5);
        pipe(TraceEvents.lockstep(List.of(e), 2));
        handOnAndPublish(INTERVAL);
        List<RequestTrace> withE = new java.util.ArrayList<>(requests);
        withE.add(e);
        assertSameAsEvaluator(DecodePlanEvaluator.evaluate(withE, N), latestMetrics().get(PREFILL_ONLY));
    }

    @Test
    void badRecordsBecomeDeadLettersAreNeverCountedAndProcessingGoesOn() {
        RequestTrace good = TraceEvents.randomRequest(TOY, "toy/good", 5, 3, 11);
        RequestTrace dup = TraceEvents.randomRequest(TOY, "toy/dup", 4, 3, 12);
        RequestTrace late = TraceEvents.randomRequest(TOY, "toy/late", 2, 2, 13);
        RequestTrace after = TraceEvents.randomRequest(TOY, "toy/after", 3, 2, 14);
        SelectionEvent valid = TraceEvents.prefillChunk(good, 0, 2, 0);

        // 0: decode step 1 of "late" before its prefill.
        selections.pipeInput(late.requestId(), TraceEvents.decodeStep(late, 1, 0));
        // 1-2: "dup" prefill chunk [0,2) twice; 3: its chunk [2,4); 4-5: decode 1 twice; 6: step 1 again after 2.
        selections.pipeInput(dup.requestId(), TraceEvents.prefillChunk(dup, 0, 2, 0));
        selections.pipeInput(dup.requestId(), TraceEvents.prefillChunk(dup, 0, 2, 0));
        selections.pipeInput(dup.requestId(), TraceEvents.prefillChunk(dup, 2, 2, 1));
        selections.pipeInput(dup.requestId(), TraceEvents.decodeStep(dup, 1, 2));
        selections.pipeInput(dup.requestId(), TraceEvents.decodeStep(dup, 1, 2));
        selections.pipeInput(dup.requestId(), TraceEvents.decodeStep(dup, 2, 3));
        selections.pipeInput(dup.requestId(), TraceEvents.decodeStep(dup, 1, 3));
        // 8: a prefill chunk after decode began.
        selections.pipeInput(dup.requestId(), TraceEvents.prefillChunk(dup, 4, 1, 3));
        // 9-11: rejected by validation: unknown model, expert id out of range, wrong k.
        selections.pipeInput(good.requestId(), SelectionEvent.newBuilder(valid).setModel("gpt-moe").build());
        int[] outOfRange = new int[2 * TOY.numMoeLayers() * TOY.topK()];
        outOfRange[5] = TOY.numExperts();
        selections.pipeInput(good.requestId(), SelectionEvent.newBuilder(valid)
                .setExpertIds(ByteBuffer.wrap(io.expertcast.core.model.ExpertIds.pack(outOfRange))).build());
        selections.pipeInput(good.requestId(), SelectionEvent.newBuilder(valid).setTopK(2).build());
        // 12: the key is not the request id.
        selections.pipeInput("someone-else", valid);
        // 13: undecodable bytes (the deserialization handler's dead letter is not visible in the test driver).
        TestInputTopic<String, byte[]> raw = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                new ByteArraySerializer());
        byte[] bytes = Topics.SELECTIONS.valueSerde().serializer().serialize("t", valid);
        raw.pipeInput(good.requestId(), Arrays.copyOf(bytes, bytes.length - 7));
        // Then the rest of "dup" and the good requests, which must still be scored.
        selections.pipeInput(dup.requestId(), TraceEvents.decodeStep(dup, 3, 4));
        pipe(TraceEvents.lockstep(List.of(good, after), 2));

        List<DeadLetter> letters = deadLetters.readValuesToList();
        List<String> reasons = letters.stream().map(DeadLetter::getReason).toList();
        assertEquals(9, letters.size(), reasons.toString());
        assertTrue(reasons.get(0).startsWith("decode step 1 before its prefill"), reasons.get(0));
        assertTrue(reasons.get(1).startsWith("duplicated or out-of-order prefill chunk at token offset 0, expected 2"),
                reasons.get(1));
        assertTrue(reasons.get(2).startsWith("duplicated step 1"), reasons.get(2));
        assertTrue(reasons.get(3).startsWith("duplicated step 1"), reasons.get(3));
        assertTrue(reasons.get(4).contains("after decode began"), reasons.get(4));
        assertTrue(reasons.get(5).contains("unknown model 'gpt-moe'"), reasons.get(5));
        assertTrue(reasons.get(6).contains("expert id 32 out of range"), reasons.get(6));
        assertTrue(reasons.get(7).contains("wrong k"), reasons.get(7));
        assertTrue(reasons.get(8).contains("is not the request id"), reasons.get(8));
        // Source offsets point at the rejected input records; the raw record rides along.
        assertEquals(List.of(0L, 2L, 5L, 7L, 8L, 9L, 10L, 11L, 12L),
                letters.stream().map(DeadLetter::getSourceOffset).toList());
        assertEquals("predictor-test", letters.get(0).getApplication());
        assertEquals(Topics.SELECTIONS.name(), letters.get(0).getSourceTopic());
        assertEquals("toy/late", new String(letters.get(0).getKey().array()));
        assertEquals(TraceEvents.decodeStep(late, 1, 0), Topics.SELECTIONS.valueSerde().deserializer()
                .deserialize("t", letters.get(0).getValue().array()));

        handOnAndPublish(INTERVAL);
        Map<String, PredictorMetrics> published = latestMetrics();
        // "late" never had a prefill: nothing of it is counted. "dup" counts once per step, in every predictor.
        assertSameAsEvaluator(DecodePlanEvaluator.evaluate(List.of(dup, good, after), N), published.get(PREFILL_ONLY));
        long decodeSamples = (3 + 3 + 2) * TOY.numMoeLayers();
        assertEquals(decodeSamples, published.get("toy-moe/next_token/*").getSamples());
        assertEquals(decodeSamples, published.get("toy-moe/decode_plan/*").getSamples());
        List<PrefetchCommand> commands = prefetch.readValuesToList();
        assertEquals(1, commands.stream().filter(c -> c.getRequestId().equals("toy/dup")
                && c.getScope() == PrefetchScope.DECODE_PHASE).count());
        assertEquals(List.of(2, 3), commands.stream().filter(c -> c.getRequestId().equals("toy/dup")
                && c.getScope() == PrefetchScope.NEXT_TOKEN).map(PrefetchCommand::getTargetStep).toList());
        // The global heatmaps count each request's consecutive tokens once (k x k pairs each):
        // dup 4 + 3 tokens, good 5 + 3, after 3 + 2; late nothing.
        handOnAndPublish(PredictorSettings.DEFAULT_HEATMAP_PUBLISH_INTERVAL);
        KeyValueStore<String, byte[]> globalStore = driver.getKeyValueStore(PredictorTopology.GLOBAL_HEATMAPS_STORE);
        java.util.function.Function<String, io.expertcast.schemas.HeatmapSnapshot> heatmap =
                key -> HeatmapRecords.decode(globalStore.get(key));
        double pairs = (6 + 7 + 4) * TOY.topK() * TOY.topK();
        for (int layer = 0; layer < TOY.numMoeLayers(); layer++) {
            assertEquals(pairs, heatmap.apply("toy-moe/" + layer + "/TOKEN_TO_TOKEN").getTotalMass(), 0.0);
            // popularity: the finished requests' every selection, once
            assertEquals((7 + 8 + 5) * TOY.topK(), heatmap.apply("toy-moe/" + layer + "/POPULARITY").getTotalMass(), 0.0);
        }
        assertEquals((7 + 8 + 5) * TOY.topK(), heatmap.apply("toy-moe/0/POPULARITY/b:mmlu").getTotalMass(), 0.0);
        assertTrue(requestStoreIsEmpty(), "dup, good and after ended; late never got state");
    }

    /**
     * Each tick of the publication schedule takes the changed layers of its slice: their popularity goes out at
     * once, their transition tables (made on the counter's thread) at the next tick; an interval (and a tick)
     * publishes all of them.
     */
    @Test
    void heatmapsArePublishedASliceOfLayersPerTickAndEveryLayerOncePerInterval() {
        pipe(TraceEvents.lockstep(List.of(TraceEvents.randomRequest(TOY, "toy/a", 4, 3, 1)), 2));
        driver.advanceWallClockTime(RequestForecastProcessor.BATCH_INTERVAL);
        KeyValueStore<String, byte[]> globalStore = driver.getKeyValueStore(PredictorTopology.GLOBAL_HEATMAPS_STORE);
        Duration tick = PredictorSettings.DEFAULT_HEATMAP_PUBLISH_INTERVAL
                .dividedBy(LayerHeatmapProcessor.PUBLICATION_SLICES);
        driver.advanceWallClockTime(tick.minus(RequestForecastProcessor.BATCH_INTERVAL));
        assertTrue(globalStore.get("toy-moe/0/POPULARITY") != null, "slice 0's popularity at the first tick");
        assertEquals(null, globalStore.get("toy-moe/0/TOKEN_TO_TOKEN"), "its transition tables at the next");
        assertEquals(null, globalStore.get("toy-moe/1/POPULARITY"), "layer 1 waits for its slice");
        driver.advanceWallClockTime(tick);
        assertTrue(globalStore.get("toy-moe/0/TOKEN_TO_TOKEN") != null, "slice 0's transitions at the second tick");
        assertTrue(globalStore.get("toy-moe/0/TOKEN_TO_TOKEN/top") != null);
        assertTrue(globalStore.get("toy-moe/1/POPULARITY") != null, "slice 1 at the second tick");
        assertEquals(null, globalStore.get("toy-moe/1/TOKEN_TO_TOKEN"));
        assertEquals(null, globalStore.get("toy-moe/3/POPULARITY"));
        for (int t = 2; t <= LayerHeatmapProcessor.PUBLICATION_SLICES; t++) {
            driver.advanceWallClockTime(tick);
        }
        for (int layer = 0; layer < TOY.numMoeLayers(); layer++) {
            assertTrue(globalStore.get("toy-moe/" + layer + "/TOKEN_TO_TOKEN") != null, "layer " + layer);
            assertTrue(globalStore.get("toy-moe/" + layer + "/POPULARITY") != null, "layer " + layer);
        }
    }

    /**
     * A layer's transition tables go out as top rows at every publication (what the next-token prediction
     * reads) and whole at most once per snapshot interval, and whole still once more after the layer stopped
     * changing, since a restart restores from them.
     */
    @Test
    void topRowsGoOutAtEveryPublicationAndWholeTablesOncePerSnapshotInterval() {
        KeyValueStore<String, byte[]> globalStore = driver.getKeyValueStore(PredictorTopology.GLOBAL_HEATMAPS_STORE);
        Duration publication = PredictorSettings.DEFAULT_HEATMAP_PUBLISH_INTERVAL;
        long publicationsPerSnapshot = PredictorSettings.DEFAULT_HEATMAP_SNAPSHOT_INTERVAL.dividedBy(publication);
        String whole = "toy-moe/0/TOKEN_TO_TOKEN";
        String top = "toy-moe/0/TOKEN_TO_TOKEN/top";

        pipe(TraceEvents.lockstep(List.of(TraceEvents.randomRequest(TOY, "toy/a", 4, 3, 1)), 2));
        handOnAndPublish(publication);
        byte[] firstWhole = globalStore.get(whole);
        byte[] firstTop = globalStore.get(top);
        assertTrue(firstWhole != null && firstTop != null, "both at the first publication");
        assertTrue(HeatmapRecords.isTopRows(HeatmapRecords.decode(firstTop)));
        assertEquals(false, HeatmapRecords.isTopRows(HeatmapRecords.decode(firstWhole)));

        pipe(TraceEvents.lockstep(List.of(TraceEvents.randomRequest(TOY, "toy/b", 4, 3, 2)), 2));
        handOnAndPublish(publication);
        assertTrue(!Arrays.equals(firstTop, globalStore.get(top)), "top rows at the next publication");
        assertArrayEquals(firstWhole, globalStore.get(whole), "the whole table waits for its interval");

        byte[] secondWhole = firstWhole;
        for (long p = 2; p < 2 * publicationsPerSnapshot && Arrays.equals(firstWhole, secondWhole); p++) {
            handOnAndPublish(publication);
            secondWhole = globalStore.get(whole);
        }
        long gap = HeatmapRecords.decode(secondWhole).getEventTimeMs()
                - HeatmapRecords.decode(firstWhole).getEventTimeMs();
        long snapshotMs = PredictorSettings.DEFAULT_HEATMAP_SNAPSHOT_INTERVAL.toMillis();
        assertTrue(gap >= snapshotMs && gap <= snapshotMs + publication.toMillis(),
                "whole again once the interval is over, though nothing changed since: after " + gap + " ms");
        assertEquals(HeatmapRecords.decode(globalStore.get(top)).getTotalMass(),
                HeatmapRecords.decode(secondWhole).getTotalMass(), 1e-9, "the same counts");

        for (long p = 0; p <= publicationsPerSnapshot; p++) {
            handOnAndPublish(publication);
        }
        assertArrayEquals(secondWhole, globalStore.get(whole), "nothing counted since: not published again");
    }

    /**
     * The heatmap aggregator's input is a topic only the request side writes; a record on it that
     * does not fit its model (a bug, or someone else's producer) is a dead letter and counts nothing, not
     * half of itself, and the aggregator goes on.
     */
    @Test
    void aHeatmapBatchThatDoesNotFitItsModelIsADeadLetterAndCountsNothing() {
        String topic = Topics.HEATMAP_LESSONS.name();
        TestInputTopic<String, LayerSelections> internal = driver.createInputTopic(topic, new StringSerializer(),
                SerdeFactory.defaultFactory().serde(LayerSelections.class).serializer());
        int k = TOY.topK();
        int[] previous = new int[(TOY.numMoeLayers() + 1) * k]; // one layer more than the model, for layer 4
        int[] token = new int[(TOY.numMoeLayers() + 1) * k];
        for (int i = 0; i < token.length; i++) {
            previous[i] = i % TOY.numExperts();
            token[i] = (i + 7) % TOY.numExperts();
        }
        java.util.function.BiFunction<Integer, int[], ByteBuffer> packed = (layer, ids) -> {
            PackedLayerTokens.Writer w = new PackedLayerTokens.Writer(TOY.numExperts());
            w.add(layer, k, previous, 0, ids, 1, ids.length, layer + 1 < TOY.numMoeLayers());
            return w.drain();
        };
        LayerSelections good = LayerSelections.newBuilder().setModel(TOY.id()).setNumExperts(TOY.numExperts())
                .setTopK(k).setLayers(List.of()).setTags(List.of()).setPacked(packed.apply(1, token))
                .setEventTimeMs(1).build();
        int[] outOfRange = token.clone();
        outOfRange[k + 2] = 40; // layer 1, slot 2
        ByteBuffer whole = packed.apply(1, token);
        ByteBuffer cut = ByteBuffer.wrap(Arrays.copyOf(whole.array(), whole.remaining() - 1));

        internal.pipeInput("toy-moe/0", good);
        internal.pipeInput("toy-moe/0", LayerSelections.newBuilder(good).setPacked(packed.apply(1, outOfRange)).build());
        internal.pipeInput("toy-moe/0", LayerSelections.newBuilder(good).setPacked(cut).build());
        internal.pipeInput("toy-moe/0", LayerSelections.newBuilder(good).setModel("gpt-moe").build());
        internal.pipeInput("toy-moe/0", LayerSelections.newBuilder(good).setNumExperts(64).build());
        internal.pipeInput("toy-moe/0", LayerSelections.newBuilder(good).setPacked(packed.apply(4, token)).build());
        internal.pipeInput("toy-moe/0", LayerSelections.newBuilder(good).setPacked(ByteBuffer.allocate(0))
                .setLayers(List.of(io.expertcast.schemas.LayerTokens.newBuilder().setLayer(2).setPrevious(List.of())
                        .setTokens(List.of()).setNextLayer(List.of()).setFinishedCounts(List.of(1, 2, 3)).build()))
                .build());
        internal.pipeInput("toy-moe/0", good);

        List<DeadLetter> letters = deadLetters.readValuesToList();
        List<String> reasons = letters.stream().map(DeadLetter::getReason).toList();
        assertEquals(6, letters.size(), reasons.toString());
        assertTrue(reasons.get(0).contains("layer 1: expert id 40 out of range [0, 32)"), reasons.get(0));
        assertTrue(reasons.get(1).startsWith("packed tokens are not whole"), reasons.get(1));
        assertTrue(reasons.get(2).contains("unknown model 'gpt-moe'"), reasons.get(2));
        assertTrue(reasons.get(3).contains("has 32 experts and k = 4, the record says 64 and 4"), reasons.get(3));
        assertTrue(reasons.get(4).contains("layer 4 out of range [0, 4)"), reasons.get(4));
        assertTrue(reasons.get(5).contains("finished counts for 3 experts, not 32"), reasons.get(5));
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), letters.stream().map(DeadLetter::getSourceOffset).toList());
        assertEquals(topic, letters.get(0).getSourceTopic());
        assertEquals(LayerSelections.newBuilder(good).setModel("gpt-moe").build(), SerdeFactory.defaultFactory()
                .serde(LayerSelections.class).deserializer().deserialize("t", letters.get(2).getValue().array()));

        // Only the two good batches counted: k x k token->token pairs each at layer 1, nothing elsewhere.
        handOnAndPublish(PredictorSettings.DEFAULT_HEATMAP_PUBLISH_INTERVAL);
        KeyValueStore<String, byte[]> globalStore = driver.getKeyValueStore(PredictorTopology.GLOBAL_HEATMAPS_STORE);
        assertEquals(2.0 * k * k, HeatmapRecords.decode(globalStore.get("toy-moe/1/TOKEN_TO_TOKEN")).getTotalMass());
        assertEquals(2.0 * k * k, HeatmapRecords.decode(globalStore.get("toy-moe/1/LAYER_TO_LAYER")).getTotalMass());
        assertEquals(null, globalStore.get("toy-moe/2/POPULARITY"));
        assertEquals(null, globalStore.get("toy-moe/0/TOKEN_TO_TOKEN"));
    }

    @Test
    void aRequestWithoutStepsForLongerThanTheIdleTimeoutIsDroppedAndReported() {
        RequestTrace stalled = TraceEvents.randomRequest(TOY, "toy/stalled", 3, 4, 21);
        RequestTrace other = TraceEvents.randomRequest(TOY, "toy/other", 3, 4, 22);
        long start = 1_000_000L;
        long later = start + PredictorSettings.DEFAULT_REQUEST_IDLE_TIMEOUT.toMillis() + 60_000;
        selections.pipeInput(stalled.requestId(), SelectionEvent.newBuilder(TraceEvents.prefillChunk(stalled, 0, 3, 0))
                .setEventTimeMs(start).build(), start);
        selections.pipeInput(stalled.requestId(), SelectionEvent.newBuilder(TraceEvents.decodeStep(stalled, 1, 1))
                .setEventTimeMs(start).build(), start);
        assertTrue(deadLetters.isEmpty());
        // Stream time moves past the timeout with another request's records: the stalled one is dropped.
        selections.pipeInput(other.requestId(), SelectionEvent.newBuilder(TraceEvents.prefillChunk(other, 0, 3, 2))
                .setEventTimeMs(later).build(), later);
        List<DeadLetter> letters = deadLetters.readValuesToList();
        assertEquals(1, letters.size());
        assertTrue(letters.get(0).getReason().startsWith("request toy/stalled had no step for more than 10 min"),
                letters.get(0).getReason());
        KeyValueStore<String, ?> store = driver.getKeyValueStore(PredictorTopology.REQUEST_STORE);
        assertEquals(null, store.get(stalled.requestId()));
        assertTrue(store.get(other.requestId()) != null, "a live request keeps its state");
    }

    private static List<Integer> experts(PrefetchCommand command, int layer) {
        List<Integer> ids = new java.util.ArrayList<>();
        for (int j = 0; j < PrefetchPredictions.expertCount(command, layer); j++) {
            ids.add(PrefetchPredictions.expert(command, layer, j));
        }
        return ids;
    }
}
