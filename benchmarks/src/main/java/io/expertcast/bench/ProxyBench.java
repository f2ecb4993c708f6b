package io.expertcast.bench;

import io.expertcast.attach.proxy.EngineProxy;
import io.expertcast.attach.standin.EngineStandIn;
import io.expertcast.attach.standin.SimulatedEngine;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.local.TopicAdmin;
import io.expertcast.schemas.Topics;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import io.expertcast.streams.connect.KafkaConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code expertcast bench proxy}: the latency the proxy adds, at N concurrent streams, against calling
 * the engine directly, in one run. The engine is the stand-in (SGLang's /generate, DeepSeek-V3-shaped
 * routed experts); every streamed event carries the nanoTime it was sent at, so a chunk's latency is
 * its arrival minus that, in this JVM. Per request: from sending it to the last byte.
 */
@Command(name = "proxy", mixinStandardHelpOptions = true,
        description = "Proxy added latency p50/p99 per request and per streamed chunk vs the engine directly.")
public final class ProxyBench implements Callable<Integer> {
    private static final Pattern SENT = Pattern.compile("\"sent_at_ns\":(\\d+)");

    /** The broker the bench publishes to (start one with: expertcast broker start). */
    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--streams", defaultValue = "50", description = "Concurrent streams (default ${DEFAULT-VALUE}).")
    int streams;

    @Option(names = "--requests", defaultValue = "20", description = "Requests per stream per round (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--tokens", defaultValue = "32", description = "Generated tokens per request (default ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--chunk-ms", defaultValue = "2", description = "The engine's pause before each streamed token (default ${DEFAULT-VALUE}).")
    double chunkMs;

    private record Samples(List<Long> requestNs, List<Long> chunkNs) {
    }

    @Override
    public Integer call() throws Exception {
        String bootstrap = kafka.bootstrap();
        Map<String, Object> client = kafka.clientProperties();
        try (TopicAdmin admin = new TopicAdmin(bootstrap, client, Duration.ofSeconds(15))) {
            admin.createAll(Topics.ALL, 4, (short) 1);
        } catch (RuntimeException e) {
            System.err.println("bench proxy: no broker at " + bootstrap + " (" + e.getMessage()
                    + "); start one with: expertcast broker start");
            return 1;
        }
        SimulatedEngine.Shape shape = SimulatedEngine.Shape.deepseek(8);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.putAll(client);
        PrintStream quiet = new PrintStream(PrintStream.nullOutputStream());
        try (EngineStandIn engine = new EngineStandIn(EngineStandIn.Flavor.SGLANG, shape, Math.round(chunkMs * 1000));
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
             EngineProxy proxy = new EngineProxy(new EngineProxy.Options(URI.create(engine.url() + "/"), "127.0.0.1", 0,
                     EngineProxy.Engine.SGLANG, ModelCatalog.DEEPSEEK_V3, engine.physicalToLogical(), "bench-proxy",
                     "X-Expertcast-Tags"), EngineProxy.kafka(producer, System.err), System.err)) {
            String direct = engine.url();
            String proxied = "http://127.0.0.1:" + proxy.port();
            System.out.printf(Locale.ROOT, "%d concurrent streams x %d requests, %d tokens each, %.1f ms between the"
                    + " engine's tokens; DeepSeek-V3-shaped routed experts; the engine is a stand-in%n", streams, requests,
                    tokens, chunkMs);
            run(direct, true, true, Math.max(2, requests / 5)); // warm-up of both paths
            run(proxied, false, true, Math.max(2, requests / 5));
            Samples d = run(direct, true, true, requests);
            Samples x = run(proxied, false, true, requests);
            Samples dn = run(direct, true, false, requests);
            Samples xn = run(proxied, false, false, requests);
            print("streamed, per chunk", d.chunkNs(), x.chunkNs());
            print("streamed, per request", d.requestNs(), x.requestNs());
            print("not streamed, per request", dn.requestNs(), xn.requestNs());
            System.out.printf(Locale.ROOT, "load average during the run: %.1f on %d cores%n",
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
                    Runtime.getRuntime().availableProcessors());
            EngineProxy.Stats s = proxy.stats();
            System.out.printf("proxy: %d requests, %d published (%d selection events), %d bad replies%n", s.requests(),
                    s.published(), s.events(), s.badReplies());
            quiet.close();
        }
        return 0;
    }

    private Samples run(String url, boolean direct, boolean stream, int perStream) throws Exception {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        List<Long> requestNs = Collections.synchronizedList(new ArrayList<>());
        List<Long> chunkNs = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(streams);
        List<Future<?>> done = new ArrayList<>();
        for (int s = 0; s < streams; s++) {
            int stream0 = s;
            done.add(pool.submit(() -> {
                for (int r = 0; r < perStream; r++) {
                    // direct calls ask for the routed experts too, so the engine does the same work on both paths
                    // and the difference is the proxy's own (the cut, the relay, the publication)
                    String body = "{\"text\":\"stream " + stream0 + " request " + r + "\",\"sampling_params\":{\"max_new_tokens\":"
                            + tokens + "},\"stream\":" + stream + (direct ? ",\"return_routed_experts\":true" : "") + "}";
                    HttpRequest req = HttpRequest.newBuilder(URI.create(url + "/generate"))
                            .header("Content-Type", "application/json").header("X-Standin-Stamp", "1")
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build();
                    long start = System.nanoTime();
                    if (stream) {
                        HttpResponse<java.util.stream.Stream<String>> resp = client.send(req, HttpResponse.BodyHandlers.ofLines());
                        resp.body().forEach(line -> {
                            Matcher m = SENT.matcher(line);
                            if (m.find()) {
                                chunkNs.add(System.nanoTime() - Long.parseLong(m.group(1)));
                            }
                        });
                    } else {
                        client.send(req, HttpResponse.BodyHandlers.ofByteArray());
                    }
                    requestNs.add(System.nanoTime() - start);
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get();
        }
        pool.shutdown();
        return new Samples(new ArrayList<>(requestNs), new ArrayList<>(chunkNs));
    }

    private static void print(String what, List<Long> direct, List<Long> proxied) {
        double d50 = pct(direct, 50);
        double d99 = pct(direct, 99);
        double x50 = pct(proxied, 50);
        double x99 = pct(proxied, 99);
        System.out.printf(Locale.ROOT, "%-26s direct p50 %8.3f ms p99 %8.3f ms | proxied p50 %8.3f ms p99 %8.3f ms |"
                + " added p50 %+7.3f ms p99 %+7.3f ms (%d / %d samples)%n", what, d50, d99, x50, x99, x50 - d50, x99 - d99,
                direct.size(), proxied.size());
    }

    private static double pct(List<Long> ns, double p) {
        if (ns.isEmpty()) {
            return Double.NaN;
        }
        List<Long> sorted = new ArrayList<>(ns);
        Collections.sort(sorted);
        int i = (int) Math.min(sorted.size() - 1, Math.ceil(p / 100.0 * sorted.size()) - 1);
        return sorted.get(Math.max(0, i)) / 1e6;
    }
}
