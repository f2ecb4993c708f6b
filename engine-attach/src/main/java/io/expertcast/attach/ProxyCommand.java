package io.expertcast.attach;

import io.expertcast.attach.proxy.EngineProxy;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.sglang.RecorderDump;
import io.expertcast.core.sglang.Tensor;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.connect.KafkaConnection;
import java.net.URI;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code expertcast proxy}: routed experts of every request through an SGLang or vLLM server, on Kafka. */
@Command(name = "proxy", mixinStandardHelpOptions = true,
        description = {"HTTP proxy in front of an SGLang or vLLM server (/generate, /v1/completions,"
                + " /v1/chat/completions, streamed or not): asks for each request's routed experts, returns the"
                + " engine's reply without them (unless the client asked) and publishes each finished request's"
                + " selections on moe.selections. Runs until Ctrl-C.",
            "The server must run with --enable-return-routed-experts. Workload tags: request header"
                + " X-Expertcast-Tags: benchmark=..; subject=..; language=.."})
public final class ProxyCommand implements Callable<Integer> {
    @Option(names = "--upstream", required = true, description = "The engine, e.g. http://127.0.0.1:30000.")
    String upstream;

    @Option(names = "--listen", defaultValue = "127.0.0.1:8480", description = "Where clients connect (default ${DEFAULT-VALUE}).")
    String listen;

    @Option(names = "--engine", defaultValue = "sglang", description = "sglang or vllm (default ${DEFAULT-VALUE}).")
    String engine;

    @Option(names = "--model", required = true, description = "Catalog id or shape id:layers:moeLayers:experts:k of the served model.")
    String model;

    @Option(names = "--physical-map", description = "A recorder dump (.pt) whose last_physical_to_logical_map maps"
            + " SGLang's physical ids (EPLB) to logical experts; without it ids are taken as logical.")
    Path physicalMap;

    @picocli.CommandLine.Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--source-id", description = "Source id of the events (default: proxy@<upstream host>:<port>).")
    String sourceId;

    @Option(names = "--tag-header", defaultValue = "X-Expertcast-Tags", description = "Header with workload tags (default ${DEFAULT-VALUE}).")
    String tagHeader;

    @Override
    public Integer call() throws Exception {
        EngineProxy.Engine kind;
        try {
            kind = EngineProxy.Engine.valueOf(engine.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            System.err.println("proxy: --engine must be sglang or vllm");
            return 2;
        }
        URI up;
        try {
            up = URI.create(upstream.endsWith("/") ? upstream : upstream + "/");
        } catch (IllegalArgumentException e) {
            System.err.println("proxy: --upstream " + upstream + " is not a URL");
            return 2;
        }
        if (up.getHost() == null) {
            System.err.println("proxy: --upstream " + upstream + " names no host");
            return 2;
        }
        int colon = listen.lastIndexOf(':');
        if (colon <= 0) {
            System.err.println("proxy: --listen must be host:port");
            return 2;
        }
        ModelShape shape;
        try {
            shape = model.contains(":") ? ModelCatalog.parseShape(model) : ModelCatalog.standard().byId(model)
                    .orElseThrow(() -> new IllegalArgumentException("unknown model " + model));
        } catch (IllegalArgumentException e) {
            System.err.println("proxy: " + e.getMessage());
            return 2;
        }
        int[][] map = null;
        if (physicalMap != null) {
            RecorderDump dump = RecorderDump.read(physicalMap);
            Tensor p2l = dump instanceof RecorderDump.PerToken pt ? pt.physicalToLogical()
                    : dump instanceof RecorderDump.PerPass pp ? pp.physicalToLogical() : null;
            if (p2l == null) {
                System.err.println("proxy: " + physicalMap + " is a stat dump: it holds no physical-to-logical map");
                return 2;
            }
            map = new int[p2l.dim(0)][p2l.dim(1)];
            for (int l = 0; l < map.length; l++) {
                for (int p = 0; p < map[l].length; p++) {
                    map[l][p] = (int) p2l.longAt((long) l * map[l].length + p);
                }
            }
        }
        String source = sourceId != null ? sourceId : "proxy@" + up.getHost() + ":" + (up.getPort() < 0 ? 80 : up.getPort());
        String problem = Topics.sourceProblem(source);
        if (problem != null) {
            System.err.println("proxy: --source-id: " + problem);
            return 2;
        }
        String bootstrap = kafka.bootstrap();
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.putAll(kafka.clientProperties()); // --config/--property win over these defaults (TLS, SASL, batching)
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
             EngineProxy proxy = new EngineProxy(new EngineProxy.Options(up, listen.substring(0, colon),
                     Integer.parseInt(listen.substring(colon + 1)), kind, shape, map, source, tagHeader),
                     EngineProxy.kafka(producer, System.err), System.err)) {
            System.out.println("proxy " + source + ": http://" + listen + " -> " + up + " (" + engine + ", " + shape.id()
                    + "), selections to " + bootstrap + " (Ctrl-C stops)");
            CountDownLatch stop = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                EngineProxy.Stats s = proxy.stats();
                System.out.printf("proxy %s: %d requests, %d published (%d events), %d without routed experts,"
                        + " %d bad replies, %d upstream failures%n", source, s.requests(), s.published(), s.events(),
                        s.withoutRoutedExperts(), s.badReplies(), s.upstreamFailures());
                stop.countDown();
            }, "proxy-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            stop.await();
        }
        return 0;
    }
}
