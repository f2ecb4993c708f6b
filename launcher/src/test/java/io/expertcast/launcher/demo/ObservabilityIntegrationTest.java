package io.expertcast.launcher.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.emulator.http.HeadlessChromium;
import io.expertcast.emulator.http.WaferSnapshot;
import io.expertcast.local.TopicAdmin;
import io.expertcast.replayer.ReplayOptions;
import io.expertcast.replayer.TraceReplayer;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The three services as the demo runs them (each with /metrics and /health, the emulator with the
 * pipeline's page), on an in-JVM broker, after a replay of 12 bundled Llama-4 requests:
 * <ul>
 *   <li>every service exports JVM, Kafka Streams and client metrics and its own;</li>
 *   <li>the Grafana dashboard in deploy/ names only metrics some service exports;</li>
 *   <li>Debian's Prometheus (promtool checks both configs) scrapes the three and answers the
 *       dashboard's queries with series;</li>
 *   <li>the page draws the run's heatmaps and placement in headless chromium (screenshot);</li>
 *   <li>the Python example reads moe.wafer-metrics and moe.predictor-metrics without our Java code.</li>
 * </ul>
 * Prometheus, chromium and the Python packages are Debian packages .ci/run installs: without them
 * those parts are skipped and said, under CI=true they fail.
 */
class ObservabilityIntegrationTest {
    private static final Path SAMPLE = Path.of("../data/sample");
    static final Path DASHBOARD = Path.of("../deploy/grafana/dashboards/expertcast.json");
    static final Path COMPOSE_PROMETHEUS = Path.of("../deploy/prometheus/prometheus.yml");
    private static final int REQUESTS = 12;
    private static final Pattern SAMPLE_LINE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)");

    private static EmbeddedKafka kafka;
    private static PipelineStages stages;
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path temp;

    @BeforeAll
    static void runThePipeline() throws Exception {
        kafka = EmbeddedKafka.start();
        try (TopicAdmin admin = new TopicAdmin(kafka.bootstrapServers(), Duration.ofSeconds(30))) {
            admin.createAll(Topics.ALL, 2, (short) 1);
        }
        stages = PipelineStages.startServed(kafka.bootstrapServers(), temp.resolve("state"), "obs-",
                Map.of("processing.guarantee", "exactly_once_v2"), new WaferSnapshot(), 0, 0, 0);
        stages.awaitRunning(Duration.ofSeconds(90));
        TraceReplayer.replay(new ReplayOptions(kafka.bootstrapServers(), SAMPLE, 6, 0, REQUESTS, false,
                DemoCommand.PREFILL_CHUNK), null);
        // Every policy has emulated passes and the predictor has published accuracy.
        Poll.until(Duration.ofSeconds(120), () -> {
            String wafer = get(stages.endpoints().get("emulator") + "metrics").body();
            String predictor = get(stages.endpoints().get("predictor") + "metrics").body();
            return wafer.contains("expertcast_wafer_passes_total{mesh=\"dojo-5x5\",model=\"llama4-maverick\",policy=\"allo+pred\"")
                    && predictor.contains("expertcast_predictor_recall_ratio{");
        }, "the services' own metrics after the replay");
    }

    @AfterAll
    static void stop() throws Exception {
        if (stages != null) {
            stages.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    static HttpResponse<String> get(String url) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException(url + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Metric names (as written, with _total, _count, ... suffixes) a scrape holds. */
    static Set<String> names(String scrape) {
        Set<String> names = new TreeSet<>();
        for (String line : scrape.split("\n")) {
            Matcher m = SAMPLE_LINE.matcher(line);
            if (!line.startsWith("#") && m.find()) {
                names.add(m.group(1));
            }
        }
        return names;
    }

    static Set<String> exported() {
        Set<String> all = new TreeSet<>();
        stages.endpoints().values().forEach(url -> all.addAll(names(get(url + "metrics").body())));
        return all;
    }

    @Test
    void everyServiceExportsJvmKafkaAndItsOwnMetricsAndIsHealthy() throws Exception {
        Files.writeString(Path.of("target/exported-metric-names.txt"), String.join("\n", exported()));
        Map<String, List<String>> expected = Map.of(
                "predictor", List.of("expertcast_predictor_recall_ratio", "expertcast_predictor_samples_total",
                        "expertcast_predictor_hits_total"),
                "allocator", List.of("expertcast_allocator_layer_plans_total", "expertcast_allocator_moves_total",
                        "expertcast_allocator_die_balance_ratio_count", "expertcast_allocator_remote_tokens_total"),
                "emulator", List.of("expertcast_wafer_throughput_tokens_per_second", "expertcast_wafer_speedup_ratio",
                        "expertcast_wafer_hops_total", "expertcast_prefetch_commands_total", "expertcast_prefetch_in_time_ratio"));
        List<String> kafkaNames = List.of("kafka_stream_thread_process_rate", "kafka_consumer_fetch_manager_records_lag_max",
                "kafka_producer_record_send_total");
        for (String url : stages.endpoints().values()) {
            Poll.until(Duration.ofSeconds(30), () -> names(get(url + "metrics").body()).containsAll(kafkaNames),
                    url + " binding Kafka's metrics (the binder looks every 10 s)");
        }
        for (var e : stages.endpoints().entrySet()) {
            HttpResponse<String> scrape = get(e.getValue() + "metrics");
            assertEquals(200, scrape.statusCode());
            Set<String> names = names(scrape.body());
            for (String common : List.of("jvm_memory_used_bytes", "process_cpu_usage", "jvm_threads_live_threads",
                    "kafka_stream_thread_process_rate", "kafka_consumer_fetch_manager_records_lag_max",
                    "kafka_producer_record_send_total")) {
                assertTrue(names.contains(common), e.getKey() + " exports " + common + "; it has " + names.size() + " names");
            }
            for (String own : expected.get(e.getKey())) {
                assertTrue(names.contains(own), e.getKey() + " exports " + own + "; its own: "
                        + names.stream().filter(n -> n.startsWith("expertcast_")).toList());
            }
            assertTrue(scrape.body().contains("service=\"" + e.getKey() + "\""), "series carry the service");
            HttpResponse<String> health = get(e.getValue() + "health");
            assertEquals(200, health.statusCode(), e.getKey() + ": " + health.body());
            assertEquals("RUNNING", JSON.readTree(health.body()).get("streams").asText());
        }
    }
    /** Metric names a PromQL expression reads (ours, Kafka's, the JVM's and the process's; label values aside). */
    static Set<String> metricNames(String expr) {
        Set<String> names = new TreeSet<>();
        Matcher m = Pattern.compile("\\b((?:expertcast|kafka|jvm|process|system)_[a-zA-Z0-9_]+)").matcher(
                expr.replaceAll("\"[^\"]*\"", "\"\""));
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /** Every query of the provisioned dashboard (panel targets and template variables), as written. */
    static List<String> dashboardQueries() throws IOException {
        JsonNode dashboard = JSON.readTree(DASHBOARD.toFile());
        List<String> queries = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                queries.add(target.path("expr").asText());
            }
        }
        for (JsonNode variable : dashboard.path("templating").path("list")) {
            queries.add(variable.path("definition").asText());
        }
        return queries;
    }

    @Test
    void everyDashboardQueryNamesMetricsTheServicesExport() throws Exception {
        List<String> queries = dashboardQueries();
        assertTrue(queries.size() >= 14, "the dashboard's panels: " + queries.size());
        // Kafka's metrics of a task or topic appear once it exists and the binder has looked again (every
        // 10 s): a name the services do not export within 30 s is not theirs.
        Set<String> exported = Set.of();
        List<String> unknown = List.of();
        int named = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        do {
            if (!unknown.isEmpty()) {
                Thread.sleep(1000);
            }
            exported = exported();
            unknown = new ArrayList<>();
            named = 0;
            for (String q : queries) {
                Set<String> names = metricNames(q);
                named += names.size();
                for (String name : names) {
                    if (!exported.contains(name)) {
                        unknown.add(name + " in " + q);
                    }
                }
            }
        } while (!unknown.isEmpty() && System.nanoTime() < deadline);
        assertEquals(List.of(), unknown, "panels name metrics no service exports");
        assertTrue(named >= queries.size(), "every query names a metric");
        // The check itself fails on a misspelt name.
        Set<String> all = exported;
        assertTrue(metricNames("rate(expertcast_wafer_hop_total{policy=\"x_total\"}[1m])").stream().noneMatch(all::contains));
    }

    private static boolean installed(String what, String... probe) throws Exception {
        boolean present;
        try {
            present = new ProcessBuilder(probe).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start().waitFor() == 0;
        } catch (IOException e) {
            present = false;
        }
        if (!present && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("CI must install " + what + " (.ci/run does)");
        }
        Assumptions.assumeTrue(present, what + " not installed: this part is not tested");
        return true;
    }

    private static String run(Path dir, String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", command) + ":\n" + out);
        return out;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static JsonNode promQuery(int port, String query) throws Exception {
        String url = "http://127.0.0.1:" + port + "/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8);
        HttpResponse<String> r = get(url);
        JsonNode body = JSON.readTree(r.body());
        assertEquals("success", body.path("status").asText(), query + ": " + r.body());
        return body.path("data").path("result");
    }

    @Test
    void debiansPrometheusScrapesTheServicesAndAnswersTheDashboardsQueries() throws Exception {
        installed("Debian's prometheus", "promtool", "--version");
        Path dir = Files.createDirectories(temp.resolve("prometheus"));
        StringBuilder targets = new StringBuilder();
        stages.endpoints().forEach((stage, url) -> targets.append("      - targets: [\"")
                .append(URI.create(url).getAuthority()).append("\"]\n        labels: {stage: ").append(stage).append("}\n"));
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
                + "  - job_name: expertcast\n    metrics_path: /metrics\n    static_configs:\n" + targets);
        run(dir, "promtool", "check", "config", config.toString());
        run(dir, "promtool", "check", "config", COMPOSE_PROMETHEUS.toAbsolutePath().toString());
        int port = freePort();
        Process prometheus = new ProcessBuilder("prometheus", "--config.file=" + config, "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=127.0.0.1:" + port).redirectErrorStream(true)
                .redirectOutput(dir.resolve("prometheus.log").toFile()).start();
        try {
            Poll.until(Duration.ofSeconds(60), () -> {
                try {
                    return promQuery(port, "up{job=\"expertcast\"} == 1").size() == 3;
                } catch (Exception | AssertionError notYet) {
                    return false;
                }
            }, "Prometheus scraping the three services (log: " + dir.resolve("prometheus.log") + ")");
            assertEquals(5, promQuery(port, "expertcast_wafer_speedup_ratio").size(), "one series per policy");
            // Every panel's query is valid PromQL here and those of a clean run answer with series
            // once the rate windows hold two scrapes.
            List<String> mustAnswer = List.of("Events/s per stage", "Tokens/s and plans/s per model",
                    "Consumer lag per stage", "Commit latency per stage", "Prediction accuracy: recall@n over 5 min",
                    "Prediction accuracy since start", "Prefetch commands in time", "Die load balance", "Placement moves",
                    "Speed-up over Base per policy", "Hops per policy", "JVM heap and CPU per service", "Services up");
            JsonNode dashboard = JSON.readTree(DASHBOARD.toFile());
            List<String> empty = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            for (JsonNode panel : dashboard.path("panels")) {
                String title = panel.path("title").asText();
                for (JsonNode target : panel.path("targets")) {
                    String q = target.path("expr").asText().replace("$model", ".*");
                    JsonNode result = promQuery(port, q);
                    while (result.isEmpty() && mustAnswer.stream().anyMatch(title::startsWith) && System.nanoTime() < deadline) {
                        Thread.sleep(1000);
                        result = promQuery(port, q);
                    }
                    if (result.isEmpty() && mustAnswer.stream().anyMatch(title::startsWith)) {
                        empty.add(title + ": " + q);
                    }
                }
            }
            assertEquals(List.of(), empty, "dashboard queries without series");
            JsonNode recall = promQuery(port, "max by (predictor) (expertcast_predictor_recall_ratio{model=\"llama4-maverick\",tag=\"*\"})");
            assertEquals(3, recall.size(), "decode_plan, decode_plan_prefill_only, next_token: " + recall);
        } finally {
            prometheus.destroy();
            if (!prometheus.waitFor(20, TimeUnit.SECONDS)) {
                prometheus.destroyForcibly();
            }
        }
    }

    @Test
    void thePipelinesPageDrawsTheRunInHeadlessChromium() throws Exception {
        Optional<Path> chromium = HeadlessChromium.binary();
        if (chromium.isEmpty() && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("CI must install Debian's chromium for the page test");
        }
        Assumptions.assumeTrue(chromium.isPresent(), "chromium not installed: the page is not tested");
        try (var browser = new HeadlessChromium(chromium.get(), temp.resolve("chromium"), stages.endpoints().get("emulator"))) {
            browser.await("document.querySelectorAll('table[data-model] tr[data-policy]').length === 5", Duration.ofSeconds(60));
            browser.await("Number(document.getElementById('heat-token').dataset.cells) > 0"
                    + " && Number(document.getElementById('heat-layer-canvas').dataset.cells) > 0", Duration.ofSeconds(60));
            browser.await("document.querySelectorAll('.uplot').length === 3", Duration.ofSeconds(60));
            browser.await("document.querySelectorAll('#place-mesh div[data-die]').length === 25", Duration.ofSeconds(60));
            browser.await("Number(document.getElementById('req-decode').dataset.cells) > 0", Duration.ofSeconds(60));
            assertEquals("nothing so far", browser.evaluate("document.getElementById('problems').innerText").asText().trim());
            browser.screenshot(Path.of("target/screenshots/pipeline-live.png"));
        }
    }

    @Test
    void thePythonExampleReadsTheMetricsTopicsWithoutJava() throws Exception {
        installed("Debian's python3-confluent-kafka and python3-avro", "/usr/bin/python3", "-c", "import confluent_kafka, avro");
        Path script = Path.of("../examples/python/read_metrics.py").toAbsolutePath();
        String json = run(temp, "/usr/bin/python3", script.toString(), "--bootstrap", kafka.bootstrapServers(),
                "--timeout", "60", "--json");
        JsonNode read = JSON.readTree(json);
        JsonNode snapshot = JSON.readTree(get(stages.endpoints().get("emulator") + "snapshot").body()).path("totals");
        for (String policy : List.of("base", "ep", "allo", "pred", "allo+pred")) {
            String key = "llama4-maverick/" + policy;
            JsonNode python = read.path("moe.wafer-metrics").path(key);
            assertEquals(snapshot.path(key).path("passes").asLong(), python.path("passes").asLong(), key);
            assertEquals(snapshot.path(key).path("hops").asLong(), python.path("hops").asLong(), key);
        }
        assertTrue(read.path("moe.predictor-metrics").has("llama4-maverick/next_token/*"), json);
        String table = run(temp, "/usr/bin/python3", script.toString(), "--bootstrap", kafka.bootstrapServers(), "--timeout", "60");
        assertTrue(table.contains("allo+pred") && table.contains("next_token"), table);
        Files.writeString(Path.of("target/python-example-output.txt"), table);
    }
}
