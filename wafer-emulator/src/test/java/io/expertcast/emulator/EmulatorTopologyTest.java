package io.expertcast.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.wafer.BasePolicy;
import io.expertcast.core.wafer.ExpertParallelPolicy;
import io.expertcast.core.wafer.PassResult;
import io.expertcast.core.wafer.WaferContext;
import io.expertcast.core.wafer.WaferEngine;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.Assignment;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.StreamsTestData;
import io.expertcast.streams.pass.CompletedPass;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmulatorTopologyTest {
    @TempDir
    Path stateDir;

    private static final String MODEL = StreamsTestData.MODEL; // llama4-maverick: 24 MoE layers, k = 1

    private TopologyTestDriver driver() {
        return driver(EmulatorSettings.defaults().withApplicationName("emu"));
    }

    private TopologyTestDriver driver(EmulatorSettings settings) {
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, settings);
        return new TopologyTestDriver(builder.build(), StreamsSettings.base("emu", "unused:9092", stateDir, Map.of()));
    }

    /** The input and output topics of one driver. */
    private record Topics4(TestInputTopic<String, SelectionEvent> selections, TestInputTopic<String, ForwardPass> passes,
                           TestInputTopic<String, AllocationPlan> plans, TestOutputTopic<String, WaferMetrics> metrics,
                           TestOutputTopic<byte[], DeadLetter> dead) {
        static Topics4 of(TopologyTestDriver driver) {
            return new Topics4(
                    driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                            Topics.SELECTIONS.valueSerde().serializer()),
                    driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                            Topics.PASSES.valueSerde().serializer()),
                    driver.createInputTopic(Topics.ALLOCATIONS.name(), new StringSerializer(),
                            Topics.ALLOCATIONS.valueSerde().serializer()),
                    driver.createOutputTopic(Topics.WAFER_METRICS.name(), Topics.WAFER_METRICS.keySerde().deserializer(),
                            Topics.WAFER_METRICS.valueSerde().deserializer()),
                    driver.createOutputTopic(Topics.DEAD_LETTER.name(), Topics.DEAD_LETTER.keySerde().deserializer(),
                            Topics.DEAD_LETTER.valueSerde().deserializer()));
        }

        /** Pass {@code pass}: request r prefills 2 tokens on expert 7 at batch offset {@code batchOffset}. */
        void twoTokenPass(long pass, int batchOffset) {
            selections.pipeInput("r" + pass, StreamsTestData.selection("r" + pass, 0, 0, 2, pass, batchOffset, 7));
            passes.pipeInput(MODEL, StreamsTestData.pass(pass, List.of(new PassEntry("r" + pass, 0, 2))));
        }

        void plans(long pass, AllocationPlan... byLayer) {
            for (AllocationPlan p : byLayer) {
                plans.pipeInput(Topics.passKey(MODEL, pass), p);
            }
        }
    }

    /** Plans of pass {@code pass} for all 24 layers, EP-like (expert 7, 2 tokens, on its home die 1). */
    private static AllocationPlan[] epPlans(long pass) {
        AllocationPlan[] plans = new AllocationPlan[24];
        for (int layer = 0; layer < 24; layer++) {
            plans[layer] = plan(pass, layer, 7, 2, 1);
        }
        return plans;
    }

    /** EP-like plan: every layer's tokens of {@code expert} on its home die. */
    private static AllocationPlan plan(long pass, int layer, int expert, int tokens, int die) {
        return new AllocationPlan(MODEL, pass, layer, 24, "dojo-5x5", List.of(new Assignment(expert, die, tokens)),
                tokens, 0L, "");
    }

    @Test
    void emitsCumulativeMetricsPerPolicyOncePassAndPlansAreComplete() {
        try (TopologyTestDriver driver = driver()) {
            var sIn = driver.createInputTopic(Topics.SELECTIONS.name(), new StringSerializer(),
                    Topics.SELECTIONS.valueSerde().serializer());
            var pIn = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            var planIn = driver.createInputTopic(Topics.ALLOCATIONS.name(), new StringSerializer(),
                    Topics.ALLOCATIONS.valueSerde().serializer());
            var metrics = driver.createOutputTopic(Topics.WAFER_METRICS.name(),
                    Topics.WAFER_METRICS.keySerde().deserializer(), Topics.WAFER_METRICS.valueSerde().deserializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                    Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());

            // Pass 0: request a prefills 3 tokens, all on expert 7 at every layer (home die 7*25/128 = 1).
            var sel = StreamsTestData.selection("a", 0, 0, 3, 0, 0, 7);
            sIn.pipeInput("a", sel);
            pIn.pipeInput(MODEL, StreamsTestData.pass(0, List.of(new PassEntry("a", 0, 3))));
            for (int layer = 0; layer < 23; layer++) {
                planIn.pipeInput(Topics.passKey(MODEL, 0), plan(0, layer, 7, 3, 1));
            }
            assertTrue(metrics.isEmpty(), "nothing until every layer's plan arrived");
            planIn.pipeInput(Topics.passKey(MODEL, 0), plan(0, 23, 7, 3, 1));
            var out = metrics.readKeyValuesToMap();
            assertEquals(List.of(MODEL + "/allo", MODEL + "/allo+pred", MODEL + "/base", MODEL + "/ep", MODEL + "/pred"), out.keySet().stream().sorted().toList());

            var hw = HardwareConfig.load("dojo-5x5");
            var wafer = WaferContext.even(hw, ModelCatalog.LLAMA4_MAVERICK);
            var completed = new CompletedPass(StreamsTestData.pass(0, List.of(new PassEntry("a", 0, 3))), List.of(sel), List.of());
            PassResult base = new WaferEngine(wafer, ModelCatalog.LLAMA4_MAVERICK).run(PassEmulator.workload(ModelCatalog.LLAMA4_MAVERICK, completed), new BasePolicy(), null);
            PassResult ep = new WaferEngine(wafer, ModelCatalog.LLAMA4_MAVERICK).run(PassEmulator.workload(ModelCatalog.LLAMA4_MAVERICK, completed), new ExpertParallelPolicy(), null);
            WaferMetrics b = out.get(MODEL + "/base");
            assertEquals(1, b.getPasses());
            assertEquals(3, b.getTokens());
            assertEquals(base.moeNs(), b.getMoeTimeNs(), 1e-6);
            assertEquals(base.hops(), b.getHops());
            assertTrue(b.getHops() > 0, "tokens on dies 0 and 2 read expert 7 from die 1");
            assertEquals(ep.moeNs(), out.get(MODEL + "/ep").getMoeTimeNs(), 1e-6);
            assertEquals(ep.moeNs(), out.get(MODEL + "/allo").getMoeTimeNs(), 1e-6, "the plan is EP's");
            assertEquals(3 / (b.getMoeTimeNs() * 1e-9), b.getThroughputTokensPerS(), 1e-6);
            assertTrue(dead.isEmpty());

            // Pass 1 with a plan sending tokens off the mesh: dead letter; base and ep still count it.
            var sel1 = StreamsTestData.selection("b", 0, 0, 1, 1, 0, 7);
            sIn.pipeInput("b", sel1);
            pIn.pipeInput(MODEL, StreamsTestData.pass(1, List.of(new PassEntry("b", 0, 1))));
            for (int layer = 0; layer < 24; layer++) {
                planIn.pipeInput(Topics.passKey(MODEL, 1), plan(1, layer, 7, 1, layer == 5 ? 25 : 1));
            }
            var second = metrics.readKeyValuesToMap();
            assertEquals(2, second.get(MODEL + "/base").getPasses());
            assertEquals(2, second.get(MODEL + "/ep").getPasses());
            assertTrue(!second.containsKey(MODEL + "/allo"), "allo skipped the pass with the bad plan");
            assertTrue(!second.containsKey(MODEL + "/allo+pred"), "allo+pred skipped the pass with the bad plan");
            assertEquals(2, second.get(MODEL + "/pred").getPasses());
            List<DeadLetter> letters = new ArrayList<>(dead.readValuesToList());
            assertEquals(1, letters.size());
            assertTrue(letters.get(0).getReason().contains("die 25 outside the 5x5 mesh"), letters.get(0).getReason());
            assertEquals("emu", letters.get(0).getApplication());
        }
    }

    @Test
    void aPassForAnUnknownModelIsADeadLetter() {
        try (TopologyTestDriver driver = driver()) {
            var pIn = driver.createInputTopic(Topics.PASSES.name(), new StringSerializer(),
                    Topics.PASSES.valueSerde().serializer());
            var dead = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                    Topics.DEAD_LETTER.keySerde().deserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());
            var pass = StreamsTestData.pass(3, List.of(new PassEntry("x", 0, 1)));
            pass.setModel("mystery-moe");
            pIn.pipeInput("mystery-moe", pass);
            assertEquals(1, dead.readValuesToList().size());
        }
    }

    @Test
    void aPassWithoutPlansEmitsNothingUnlessAlloIsOff() {
        try (TopologyTestDriver driver = driver()) {
            Topics4 t = Topics4.of(driver);
            t.twoTokenPass(0, 0);
            assertTrue(t.metrics().isEmpty(), "allo needs the pass's plans; no policy reports it alone");
            assertTrue(t.dead().isEmpty());
        }
        var baseAndEp = new EmulatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"),
                List.of("base", "ep"), "emu");
        try (TopologyTestDriver driver = driver(baseAndEp)) {
            Topics4 t = Topics4.of(driver);
            t.twoTokenPass(0, 0);
            assertEquals(List.of(MODEL + "/base", MODEL + "/ep"),
                    t.metrics().readKeyValuesToList().stream().map(kv -> kv.key).toList());
        }
    }

    @Test
    void eachKindOfUnusablePlanIsADeadLetterAndOnlyAlloSkipsThePass() {
        try (TopologyTestDriver driver = driver()) {
            Topics4 t = Topics4.of(driver);
            AllocationPlan[] badExpert = epPlans(0);
            badExpert[3] = plan(0, 3, 128, 2, 1);
            AllocationPlan[] badLayer = epPlans(1);
            badLayer[23] = plan(1, 24, 7, 2, 1);
            AllocationPlan[] tooManyTokens = epPlans(2);
            tooManyTokens[0] = plan(2, 0, 7, 3, 1); // 2 tokens x k = 1 routed to expert 7, the plan computes 3
            AllocationPlan[][] bad = {badExpert, badLayer, tooManyTokens};
            for (int pass = 0; pass < 3; pass++) {
                t.twoTokenPass(pass, 0);
                t.plans(pass, bad[pass]);
            }
            List<String> reasons = t.dead().readValuesToList().stream().map(DeadLetter::getReason).toList();
            assertEquals(List.of(
                    "invalid plan, the plan-driven policies skip this pass: plan for pass 0 layer 3 names expert 128 (model has 128)",
                    "invalid plan, the plan-driven policies skip this pass: plan for pass 1 names MoE layer 24, model "
                            + MODEL + " has 24",
                    "invalid plan, the plan-driven policies skip this pass: plan for pass 2 layer 0 gives expert 7 3 tokens,"
                            + " the pass routed 2 to it"), reasons);
            var totals = t.metrics().readKeyValuesToMap();
            assertEquals(3, totals.get(MODEL + "/base").getPasses());
            assertEquals(3, totals.get(MODEL + "/ep").getPasses());
            assertTrue(!totals.containsKey(MODEL + "/allo"));
            assertTrue(!totals.containsKey(MODEL + "/allo+pred"));
            assertEquals(3, totals.get(MODEL + "/pred").getPasses());
        }
    }

    @Test
    void selectionsThatDoNotTileTheirPassAreADeadLetterForEveryPolicy() {
        try (TopologyTestDriver driver = driver()) {
            Topics4 t = Topics4.of(driver);
            t.twoTokenPass(0, 1); // tokens 1..2 of a 2-token pass
            t.plans(0, epPlans(0));
            // pass 1: two requests both claiming batch token 0
            t.selections().pipeInput("x", StreamsTestData.selection("x", 0, 0, 1, 1, 0, 7));
            t.selections().pipeInput("y", StreamsTestData.selection("y", 0, 0, 1, 1, 0, 7));
            t.passes().pipeInput(MODEL, StreamsTestData.pass(1, List.of(new PassEntry("x", 0, 1), new PassEntry("y", 0, 1))));
            t.plans(1, epPlans(1));
            List<DeadLetter> letters = t.dead().readValuesToList();
            assertEquals(List.of(
                    "selections do not fit their pass, no policy counts it: request r0 step 0 claims batch tokens 1..2"
                            + " of pass 0, which has 2",
                    "selections do not fit their pass, no policy counts it: batch token 0 of pass 1 claimed twice"
                            + " (again by request y)"),
                    letters.stream().map(DeadLetter::getReason).toList());
            assertEquals(Topics.SELECTIONS.name(), letters.get(0).getSourceTopic());
            assertTrue(t.metrics().isEmpty());
        }
    }

    @Test
    void theHttpApiServesTheTotalsAndTheLastPassPerLayerOnLoopback() throws Exception {
        io.expertcast.emulator.http.WaferSnapshot snapshot = new io.expertcast.emulator.http.WaferSnapshot();
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, EmulatorSettings.defaults().withApplicationName("emu"), snapshot);
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base("emu", "unused:9092", stateDir, Map.of()));
             var http = io.expertcast.emulator.http.WaferHttpServer.start(0, snapshot)) {
            Topics4 t = Topics4.of(driver);
            t.twoTokenPass(0, 0);
            t.plans(0, epPlans(0));
            WaferMetrics published = t.metrics().readKeyValuesToMap().get(MODEL + "/base");
            var client = java.net.http.HttpClient.newHttpClient();
            var response = client.send(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create("http://127.0.0.1:" + http.port() + "/snapshot")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode());
            var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(response.body());
            var base = json.get("totals").get(MODEL + "/base");
            assertEquals(1, base.get("passes").asLong());
            assertEquals(published.getMoeTimeNs(), base.get("moe_time_ns").asDouble(), 0.0);
            assertEquals(published.getHops(), base.get("hops").asLong());
            assertEquals(5, json.get("totals").size());
            var last = json.get("last_pass").get(MODEL + "/allo+pred");
            assertEquals(24, last.get("layer_ns").size(), "one time per MoE layer");
            assertEquals(100, last.get("link_bytes").size(), "25 dies x 4 directed links");
            var missing = client.send(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create("http://127.0.0.1:" + http.port() + "/other")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(404, missing.statusCode());
            assertEquals("dojo-5x5", json.get("mesh").get("name").asText());
            assertEquals(5, json.get("mesh").get("cols").asInt());

            // Prometheus' text format, written by Micrometer's registry (no hand-written exposition).
            var scrape = client.send(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create(http.url() + "metrics")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertTrue(scrape.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
            String prometheus = scrape.body();
            assertTrue(prometheus.contains("# TYPE expertcast_wafer_hops_total counter"), prometheus);
            assertTrue(prometheus.contains("expertcast_wafer_hops_total{mesh=\"dojo-5x5\",model=\"" + MODEL
                    + "\",policy=\"base\",service=\"emulator\"} " + (double) published.getHops() + "\n"), prometheus);
            assertTrue(prometheus.contains("# TYPE expertcast_wafer_throughput_tokens_per_second gauge"), prometheus);
            assertTrue(prometheus.contains("jvm_memory_used_bytes{"), "JVM metrics are bound");
            assertEquals(404, client.send(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create(http.url() + "prometheus")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode(), "the hand-written /prometheus is gone");

            // The event stream sends the same snapshot while the client stays connected.
            var events = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(http.url() + "events")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofLines());
            assertEquals("text/event-stream", events.headers().firstValue("Content-Type").orElse(""));
            String first;
            try (var lines = events.body()) {
                first = lines.filter(l -> l.startsWith("data: ")).findFirst().orElseThrow();
            }
            var streamed = new com.fasterxml.jackson.databind.ObjectMapper().readTree(first.substring("data: ".length()));
            assertEquals(published.getHops(), streamed.get("totals").get(MODEL + "/base").get("hops").asLong());

            var page = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(http.url())).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, page.statusCode());
            assertTrue(page.body().contains("new EventSource(\"/events\")"), "the dashboard reads the event stream");
            var post = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(http.url() + "metrics"))
                    .POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(405, post.statusCode());
        }
    }

    /**
     * The dashboard page in a real browser: the script reads /events and draws one table row per policy
     * and the mesh's links.
     */
    /** What a dashboard test does once the page is live: feed the topology, read the page. */
    private interface DashboardCheck {
        void check(TopologyTestDriver driver, Topics4 t, io.expertcast.emulator.http.HeadlessChromium browser)
                throws Exception;
    }

    /**
     * Runs {@code check} against the emulator's topology with its dashboard open in Debian's headless
     * chromium (page live before the first record). Skipped, and said, where chromium is not installed;
     * CI installs it, and under CI=true a missing browser fails.
     */
    private void withDashboard(DashboardCheck check) throws Exception {
        var chromium = io.expertcast.emulator.http.HeadlessChromium.binary();
        if (chromium.isEmpty() && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("CI must install Debian's chromium for the dashboard test");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(chromium.isPresent(), "chromium not installed: dashboard not tested");
        io.expertcast.emulator.http.WaferSnapshot snapshot = new io.expertcast.emulator.http.WaferSnapshot();
        StreamsBuilder builder = new StreamsBuilder();
        EmulatorTopology.build(builder, EmulatorSettings.defaults().withApplicationName("emu"), snapshot);
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                StreamsSettings.base("emu", "unused:9092", stateDir, Map.of()));
             var http = io.expertcast.emulator.http.WaferHttpServer.start(0, snapshot, java.time.Duration.ofMillis(200));
             var browser = new io.expertcast.emulator.http.HeadlessChromium(chromium.get(), stateDir.resolve("chromium"), http.url())) {
            // The page is open before the first record: it must follow the event stream, not a one-off read.
            browser.await("document.getElementById('status').textContent.startsWith('live')", java.time.Duration.ofSeconds(30));
            check.check(driver, Topics4.of(driver), browser);
        }
    }

    @Test
    void theDashboardDrawsTheLiveTotalsInAHeadlessBrowser() throws Exception {
        withDashboard((driver, t, browser) -> {
            t.twoTokenPass(0, 0);
            t.plans(0, epPlans(0));
            WaferMetrics allo = t.metrics().readKeyValuesToMap().get(MODEL + "/allo");
            browser.await("document.querySelectorAll('table[data-model] tr[data-policy]').length === 5", java.time.Duration.ofSeconds(30));
            String alloRow = browser.evaluate("document.querySelector('tr[data-policy=\"allo\"]').innerText").asText();
            assertTrue(alloRow.contains(String.format(java.util.Locale.ENGLISH, "%,d", allo.getHops())), alloRow);
            assertEquals("1.00x", browser.evaluate(
                    "document.querySelector('tr[data-policy=\"base\"]').children[2].textContent").asText());
            assertEquals(40, browser.evaluate("document.querySelectorAll('#mesh line').length").asInt(),
                    "5x5 mesh: 2 x 5 x 4 neighbour links drawn");
            assertEquals(24, browser.evaluate("document.querySelectorAll('#layers rect').length").asInt(),
                    "one bar per Llama-4 MoE layer");
        });
    }

    /**
     * The dashboard shows what became of the prefetch commands: request a decodes one token at step 1
     * (its last) on expert 7; its step-1 command is used, its step-2 command expires when a ends, a command
     * naming expert 128 is unknown, and a step-3 command sent after a ended is late.
     */
    @Test
    void theDashboardShowsWhatBecameOfThePrefetchCommands() throws Exception {
        withDashboard((driver, t, browser) -> {
            var commands = driver.createInputTopic(Topics.PREFETCH.name(), new StringSerializer(),
                    Topics.PREFETCH.valueSerde().serializer());
            commands.pipeInput("a", nextToken("a", 1, 7));
            commands.pipeInput("a", nextToken("a", 2, 7));
            commands.pipeInput("a", nextToken("a", 1, 128));
            SelectionEvent last = StreamsTestData.selection("a", 1, 0, 1, 0, 0, 7);
            last.setLastStep(true);
            t.selections().pipeInput("a", last);
            t.passes().pipeInput(MODEL, StreamsTestData.pass(0, List.of(new PassEntry("a", 1, 1))));
            for (int layer = 0; layer < 24; layer++) {
                t.plans(0, plan(0, layer, 7, 1, 1));
            }
            commands.pipeInput("a", nextToken("a", 3, 7));
            WaferMetrics pred = t.metrics().readKeyValuesToMap().get(MODEL + "/allo+pred");
            assertEquals(List.of(1L, 1L, 1L, 1L), List.of(pred.getPrefetchUsed(), pred.getPrefetchLate(),
                    pred.getPrefetchExpired(), pred.getPrefetchUnknown()));
            browser.await("document.querySelectorAll('table[data-prefetch] tr[data-policy]').length === 2",
                    java.time.Duration.ofSeconds(30));
            browser.await("document.querySelector('table[data-prefetch] tr[data-policy=\"pred\"]').children[5].textContent === '4'",
                    java.time.Duration.ofSeconds(30));
            for (String policy : List.of("pred", "allo+pred")) {
                String cells = browser.evaluate("Array.from(document.querySelector('table[data-prefetch] tr[data-policy=\""
                        + policy + "\"]').children).map(c => c.textContent).join('|')").asText();
                assertEquals(policy + "|1|1|1|1|4|25.0 %", cells, "policy, used, late, expired, unknown, total, used share");
            }
            assertEquals("policy|used|late|expired|unknown|total|used share", browser.evaluate(
                    "Array.from(document.querySelectorAll('table[data-prefetch] th')).map(c => c.textContent).join('|')").asText());
        });
    }

    private static io.expertcast.schemas.PrefetchCommand nextToken(String request, int step, int expert) {
        return new io.expertcast.schemas.PrefetchCommand(MODEL, request, io.expertcast.schemas.PrefetchScope.NEXT_TOKEN,
                step, io.expertcast.schemas.MemoryTier.HBM,
                List.of(new io.expertcast.schemas.LayerPrediction(0, List.of(expert), List.of(1.0))), 0L, 0L, 0, java.nio.ByteBuffer.allocate(0), java.nio.ByteBuffer.allocate(0));
    }

    @Test
    void aModelTooBigForTheWaferIsADeadLetterAndTheServiceKeepsRunning() {
        // 2 dies of 80 GB cannot hold Llama-4's 771 GB of experts.
        HardwareConfig two = new HardwareConfig("two-dies", 1, 2, 989e12, 80_000_000_000L, 3.35e12, 1.7e12, 200,
                64L << 20, 100, 110, 30, 300, 16, 0.1);
        var settings = new EmulatorSettings(ModelCatalog.standard(), two, List.of("base", "ep"), "emu");
        try (TopologyTestDriver driver = driver(settings)) {
            Topics4 t = Topics4.of(driver);
            t.twoTokenPass(0, 0);
            t.twoTokenPass(1, 0);
            List<DeadLetter> letters = t.dead().readValuesToList();
            assertEquals(2, letters.size());
            assertTrue(letters.get(0).getReason().startsWith("the wafer cannot hold this model, no policy counts the pass: "
                    + "llama4-maverick does not fit on two-dies"), letters.get(0).getReason());
            assertEquals(Topics.PASSES.name(), letters.get(1).getSourceTopic());
            assertTrue(t.metrics().isEmpty());
        }
    }
}
