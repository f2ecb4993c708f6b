package io.expertcast.emulator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.TraceDataset;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.Assignment;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PlacementEntry;
import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.metrics.ServiceMetrics;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline's page on real records: the bundled Llama-4 sample's transitions as moe.heatmaps would
 * carry them (encoded and decoded with the topic's serde), accuracy and wafer totals over time, the
 * expert distribution table and a plan, a request's prefill and decode, and bad input (a heatmap that
 * does not fit its model, a model the catalog does not know, an undecodable record). Drawn in Debian's
 * headless chromium; the screenshot goes to target/screenshots/pipeline-page.png (docs/images holds a copy).
 */
class PipelinePageTest {
    private static final String MODEL = "llama4-maverick";
    private static final int LAYER = 7;

    @TempDir
    Path temp;

    @Test
    void thePageAnswersWithTheTopicsRecordsAndSaysWhatItCannotUse() throws Exception {
        ModelCatalog catalog = ModelCatalog.standard();
        PipelinePage page = fill(catalog, new WaferSnapshot());
        var heat = page.heatmapJson(MODEL, LAYER, "TOKEN_TO_TOKEN");
        @SuppressWarnings("unchecked")
        List<List<Double>> p = (List<List<Double>>) heat.get("p");
        assertEquals(128, p.size());
        for (List<Double> row : p) {
            double sum = row.stream().mapToDouble(Double::doubleValue).sum();
            assertTrue(sum == 0 || Math.abs(sum - 1) < 0.01, "rows are P(next | current): " + sum);
        }
        assertTrue(String.valueOf(page.heatmapJson(MODEL, 3, "TOKEN_TO_TOKEN").get("error"))
                .contains("does not fit the model: it has 64 experts, the model 128"));
        assertTrue(String.valueOf(page.heatmapJson("mystery-model", 0, "TOKEN_TO_TOKEN").get("error"))
                .startsWith("unknown model mystery-model"));
        assertTrue(String.valueOf(page.heatmapJson(MODEL, LAYER, "SIDEWAYS").get("error")).startsWith("unknown heatmap kind"));
        var index = page.index();
        assertTrue(index.get("problems").toString().contains("moe.heatmaps partition 2 offset 41: undecodable record"), index.toString());
        var placement = page.placementJson(MODEL, LAYER, 25);
        assertEquals(128, placement.get("rows"));
        @SuppressWarnings("unchecked")
        var pred = (java.util.Map<String, List<Object>>) ((java.util.Map<String, Object>) page.seriesJson().get("wafer"))
                .get(MODEL + "/pred");
        assertEquals((3800 + 20 * 29) / 1957.0, (Double) pred.get("speedup").get(29), 1e-9, "against Base at the same moment");
        assertEquals(100.0 * 29 / (100 * 29 + 4 * 29 + 10 * 29), (Double) pred.get("in_time").get(29), 1e-9);
    }

    @Test
    void thePipelinesPageDrawsHeatmapsSeriesAndTheMeshInAHeadlessBrowser() throws Exception {
        var chromium = HeadlessChromium.binary();
        if (chromium.isEmpty() && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("CI must install Debian's chromium for the page test");
        }
        Assumptions.assumeTrue(chromium.isPresent(), "chromium not installed: the page is not tested");
        ModelCatalog catalog = ModelCatalog.standard();
        WaferSnapshot snapshot = new WaferSnapshot();
        snapshot.mesh(HardwareConfig.load("dojo-5x5"));
        PipelinePage page = fill(catalog, snapshot);
        try (ServiceMetrics metrics = ServiceMetrics.create("emulator");
             var http = WaferHttpServer.start(InetAddress.getLoopbackAddress(), 0, snapshot, Duration.ofMillis(200),
                     metrics, () -> null, page)) {
            HttpClient client = HttpClient.newHttpClient();
            var health = client.send(HttpRequest.newBuilder(URI.create(http.url() + "health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(503, health.statusCode(), "not ready without a running Streams application");
            assertTrue(health.body().contains("\"NOT_BUILT\""), health.body());
            var bad = client.send(HttpRequest.newBuilder(URI.create(http.url() + "api/heatmap?model=x&layer=seven")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(400, bad.statusCode());
            assertEquals("layer must be an integer, got seven", new ObjectMapper().readTree(bad.body()).get("error").asText());
            var unknown = client.send(HttpRequest.newBuilder(URI.create(http.url() + "api/heatmap?model=mystery-model&layer=0")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, unknown.statusCode(), "an unknown model is an answer the page shows, not a failure");

            try (var browser = new HeadlessChromium(chromium.get(), temp.resolve("chromium"), http.url())) {
                browser.await("document.querySelectorAll('.uplot').length === 3", Duration.ofSeconds(30));
                browser.await("document.getElementById('heat-layer').options.length === 2", Duration.ofSeconds(30));
                select(browser, "heat-layer", "7");
                browser.await("Number(document.getElementById('heat-token').dataset.cells) > 100"
                        + " && Number(document.getElementById('heat-layer-canvas').dataset.cells) > 100", Duration.ofSeconds(30));
                assertEquals(String.valueOf(LAYER), browser.evaluate("document.getElementById('heat-layer').value").asText());
                assertTrue(browser.evaluate("document.getElementById('heat-token-caption').textContent").asText()
                        .startsWith("token -> token, llama4-maverick MoE layer 7"));
                browser.await("document.querySelectorAll('#place-mesh div[data-die]').length === 25", Duration.ofSeconds(30));
                assertTrue(browser.evaluate("document.querySelector('#place-mesh div[data-die=\"0\"]').innerText").asText()
                        .startsWith("die 0: 40 tokens"));
                browser.await("Number(document.getElementById('req-decode').dataset.cells) > 0", Duration.ofSeconds(30));
                String problems = browser.evaluate("document.getElementById('problems').innerText").asText();
                assertTrue(problems.contains("undecodable record"), problems);
                assertTrue(problems.contains("model mystery-model is on the topics but not in the page's catalog"), problems);
                        assertEquals(3, browser.evaluate("document.querySelector('#chart-speed').dataset.series").asInt(),
                        "one line per policy: base, ep and pred");
                browser.screenshot(Path.of("target/screenshots/pipeline-page.png"));
                // A layer whose table does not fit the model: said in place of the picture.
                select(browser, "heat-layer", "3");
                browser.await("document.getElementById('heat-token-caption').textContent.includes('does not fit the model')",
                        Duration.ofSeconds(30));
            }
        }
        assertTrue(Files.size(Path.of("target/screenshots/pipeline-page.png")) > 10_000);
    }

    private static void select(HeadlessChromium browser, String id, String value) throws Exception {
        browser.evaluate("(() => { const s = document.getElementById('" + id + "'); s.value = '" + value + "';"
                + " s.dispatchEvent(new Event('change')); return true; })()");
    }

    /** The page with what the topics would hold after a run of the bundled sample (and three bad records). */
    private static PipelinePage fill(ModelCatalog catalog, WaferSnapshot snapshot) {
        PipelinePage page = new PipelinePage(catalog);
        ModelShape shape = catalog.byId(MODEL).orElseThrow();
        int e = shape.numExperts();
        double[][] token = new double[e][e];
        double[][] layer = new double[e][e];
        List<RequestTrace> requests = new ArrayList<>();
        Iterator<RequestTrace> it = TraceDataset.open(Path.of("../data/sample"), catalog).requests(false, new ArrayList<>());
        while (it.hasNext()) {
            requests.add(it.next());
        }
        for (RequestTrace r : requests) {
            for (int s = 1; s < r.numSteps(); s++) {
                int prevStep = s == 1 ? 0 : s - 1;
                int prevToken = s == 1 ? r.prefillTokens() - 1 : 0;
                for (int k = 0; k < shape.topK(); k++) {
                    for (int k2 = 0; k2 < shape.topK(); k2++) {
                        token[r.expert(prevStep, prevToken, LAYER, k)][r.expert(s, 0, LAYER, k2)]++;
                        layer[r.expert(s, 0, LAYER, k)][r.expert(s, 0, LAYER + 1, k2)]++;
                    }
                }
            }
        }
        page.heatmap(MODEL + "/" + LAYER + "/TOKEN_TO_TOKEN", roundTrip(heatmap(MODEL, LAYER, HeatmapKind.TOKEN_TO_TOKEN, token)), 0);
        page.heatmap(MODEL + "/" + LAYER + "/LAYER_TO_LAYER", roundTrip(heatmap(MODEL, LAYER, HeatmapKind.LAYER_TO_LAYER, layer)), 0);
        page.heatmap(MODEL + "/3/TOKEN_TO_TOKEN", roundTrip(heatmap(MODEL, 3, HeatmapKind.TOKEN_TO_TOKEN, new double[64][64])), 0);
        page.heatmap("mystery-model/0/TOKEN_TO_TOKEN", roundTrip(heatmap("mystery-model", 0, HeatmapKind.TOKEN_TO_TOKEN,
                new double[4][4])), 0);
        page.undecodable("moe.heatmaps", 2, 41, new org.apache.kafka.common.errors.SerializationException("bad magic"));
        long t0 = 1_800_000_000_000L;
        for (int i = 0; i < 30; i++) {
            long t = t0 + i * 1000L;
            page.accuracy(MODEL + "/next_token/*", accuracy("next_token", 0.55 + 0.15 * (1 - Math.exp(-i / 8.0)), t), t);
            page.accuracy(MODEL + "/decode_plan/*", accuracy("decode_plan", 0.40 + 0.06 * (1 - Math.exp(-i / 8.0)), t), t);
            page.wafer(MODEL + "/base", wafer("base", 1957, 0, 0, 0), t);
            page.wafer(MODEL + "/ep", wafer("ep", 5155, 0, 0, 0), t);
            page.wafer(MODEL + "/pred", wafer("pred", 3800 + 20 * i, 100 * i, 4 * i, 10 * i), t);
        }
        int dies = 25;
        for (int x = 0; x < e; x++) {
            List<Integer> replicas = x % 16 == 0 ? List.of((x / 16 + 12) % dies) : List.of();
            page.placement(MODEL + "/" + LAYER + "/" + x, new PlacementEntry(MODEL, LAYER, x, x * dies / e, replicas, 1L, t0), t0);
        }
        List<Assignment> assignments = new ArrayList<>();
        for (int d = 0; d < dies; d++) {
            assignments.add(new Assignment(d * e / dies, d, 40 + d % 5 * 7));
        }
        page.plan(MODEL + "/000000000001", new AllocationPlan(MODEL, 1L, LAYER, shape.numMoeLayers(), "dojo-5x5",
                assignments, 16, t0, ""), t0);
        RequestTrace r = requests.get(0);
        snapshot.requests().observe(events(r, shape), e);
        return page;
    }

    private static List<SelectionEvent> events(RequestTrace r, ModelShape shape) {
        List<SelectionEvent> out = new ArrayList<>();
        for (int s = 0; s < r.numSteps(); s++) {
            int[] ids = r.steps().get(s);
            ByteBuffer b = ByteBuffer.allocate(ids.length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int id : ids) {
                b.putShort((short) id);
            }
            b.flip();
            out.add(new SelectionEvent(MODEL, r.requestId(), s, s == 0 ? Phase.PREFILL : Phase.DECODE, 0, r.tokens(s), 0L, 0,
                    shape.numMoeLayers(), shape.topK(), b, s == r.numSteps() - 1, null, null, null, 0L, ""));
        }
        return out;
    }

    private static HeatmapSnapshot heatmap(String model, int layer, HeatmapKind kind, double[][] counts) {
        ByteBuffer cells = ByteBuffer.allocate(counts.length * (4 + counts.length * 10)).order(ByteOrder.LITTLE_ENDIAN);
        double mass = 0;
        for (int i = 0; i < counts.length; i++) {
            int n = 0;
            for (double v : counts[i]) {
                n += v > 0 ? 1 : 0;
            }
            if (n == 0) {
                continue;
            }
            cells.putShort((short) i).putShort((short) n);
            for (int j = 0; j < counts.length; j++) {
                if (counts[i][j] > 0) {
                    cells.putShort((short) j).putDouble(counts[i][j]);
                    mass += counts[i][j];
                }
            }
        }
        cells.flip();
        return HeatmapSnapshot.newBuilder().setModel(model).setLayer(layer).setKind(kind).setNumExperts(counts.length)
                .setRows(List.of()).setTotalMass(mass).setTag(null).setEventTimeMs(0L).setCells(cells)
                .setRowTotals(ByteBuffer.allocate(0)).build();
    }

    /** Through the topic's serde, as the page's reader gets it. */
    private static HeatmapSnapshot roundTrip(HeatmapSnapshot h) {
        byte[] bytes = Topics.HEATMAPS.valueSerde().serializer().serialize(Topics.HEATMAPS.name(), h);
        return Topics.HEATMAPS.valueSerde().deserializer().deserialize(Topics.HEATMAPS.name(), bytes);
    }

    private static PredictorMetrics accuracy(String predictor, double recall, long t) {
        return PredictorMetrics.newBuilder().setModel(MODEL).setPredictor(predictor).setN(8).setSamples(1000).setHits(
                (long) (recall * 1000)).setSelected(1000).setRecall(recall).setRequests(10).setPredicted(8000)
                .setHitSamples((long) (recall * 1000)).setPrecision(recall / 8).setHitRate(recall).setTag("*")
                .setLayerHits(List.of()).setLayerPredicted(List.of()).setLayerHitSamples(List.of()).setLayerRecall(List.of())
                .setLayerSpearmanSum(List.of()).setLayerSpearmanRequests(List.of()).setLayerSpearman(List.of())
                .setEventTimeMs(t).build();
    }

    private static WaferMetrics wafer(String policy, double throughput, long used, long late, long expired) {
        return WaferMetrics.newBuilder().setModel(MODEL).setMesh("dojo-5x5").setPolicy(policy).setPasses(10).setTokens(160)
                .setMoeTimeNs(1e6).setThroughputTokensPerS(throughput).setHops(100).setLocalReads(1).setRemoteReads(1)
                .setCopyWrites(0).setLastPassId(9).setMeanDieNs(1).setDieBalance(1.2).setReads(2).setCopyReads(0)
                .setLlcHits(0).setLlcHitRate(0).setLinkBytes(0).setMaxPassLinkBytes(0).setEventTimeMs(0)
                .setPrefetchUsed(used).setPrefetchLate(late).setPrefetchUnknown(0).setPrefetchExpired(expired).build();
    }

    @SuppressWarnings("unused")
    private static JsonNode json(String body) throws Exception {
        return new ObjectMapper().readTree(body);
    }
}
