package io.expertcast.emulator;

import io.expertcast.streams.testing.ChildJvm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.LayerPrediction;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.StreamsTestData;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import io.expertcast.streams.testing.PoisonRecords;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 item 5, the engines' part: what a Pred policy has loaded into each die's HBM and LLC, and
 * the wafer's resource clocks, survive a kill -9 of the emulator. Two sources replay the same 12
 * passes (each source runs on a wafer of its own): one through an emulator left alone, the other
 * through an emulator killed -9 (a JVM of its own) after pass 4 and again after pass 8, each time
 * started again with an empty state directory. Every per-policy total of the interrupted source
 * equals the uninterrupted one's: time, hops, reads by kind, copies, LLC hits, link bytes, prefetch
 * fates. Before the engines' state was kept, the restarted wafer started cold (no copies, empty LLC,
 * clocks at zero) and the totals differed.
 */
class EngineStateRestartTest {
    private static final String MODEL = StreamsTestData.MODEL;
    private static final String APP = "engine-restart";
    private static final String REQUEST = "r";
    private static final int PASSES = 12;
    private static final List<String> POLICIES = List.of("base", "ep", "pred");

    @TempDir
    Path work;

    private final List<Process> children = new ArrayList<>();

    /** The emulator in a JVM of its own, until killed: what the test kills -9. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            EmulatorSettings settings = new EmulatorSettings(ModelCatalog.standard(), HardwareConfig.load("dojo-5x5"),
                    POLICIES, APP);
            // A dead instance leaves the group after 6 s (the broker's minimum session timeout) instead of 45 s.
            KafkaStreams streams = EmulatorApp.start(args[0], Path.of(args[1]), settings, Map.of(
                    "consumer.session.timeout.ms", 6000, "consumer.heartbeat.interval.ms", 1500));
            while (streams.state() != KafkaStreams.State.RUNNING) {
                if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
                    System.exit(1);
                }
                Thread.sleep(100);
            }
            System.out.println("RUNNING");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    private Process startChild(String bootstrap, String name) throws Exception {
        ChildJvm child = ChildJvm.start(work, name, "384m", Child.class, bootstrap, work.resolve(name).toString());
        children.add(child.process());
        child.await(Duration.ofSeconds(120), "RUNNING");
        return child.process();
    }

    /** Step s of the request reads expert e(s) at every MoE layer: a few experts again and again. */
    private static int expert(int step) {
        return new int[] {5, 9, 17, 40, 5, 9, 77, 17}[step % 8];
    }

    /** Pass p of {@code source}: step p of the request (prefill of 4 tokens at p = 0), and a command for the next step. */
    private static List<ProducerRecord<byte[], byte[]>> pass(String source, int p) {
        long now = System.currentTimeMillis();
        int tokens = p == 0 ? 4 : 1;
        SelectionEvent e = StreamsTestData.selection(REQUEST, p, 0, tokens, p, 0, expert(p));
        e.setEventTimeMs(now);
        e.setSource(source);
        e.setLastStep(p == PASSES - 1);
        ForwardPass forward = new ForwardPass(MODEL, (long) p, List.of(new PassEntry(REQUEST, p, tokens)), tokens,
                p == 0 ? 0 : tokens, now, source);
        byte[] requestKey = Topics.requestKey(source, REQUEST).getBytes(StandardCharsets.UTF_8);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        if (p + 1 < PASSES) {
            List<LayerPrediction> layers = new ArrayList<>();
            for (int l = 0; l < 24; l++) {
                layers.add(new LayerPrediction(l, List.of(expert(p + 1)), List.of(1.0)));
            }
            PrefetchCommand c = new PrefetchCommand(MODEL, REQUEST, PrefetchScope.NEXT_TOKEN, p + 1, MemoryTier.HBM,
                    layers, (long) p, now, 0, java.nio.ByteBuffer.allocate(0), java.nio.ByteBuffer.allocate(0));
            records.add(new ProducerRecord<>(Topics.PREFETCH.name(), requestKey,
                    Topics.PREFETCH.valueSerde().serializer().serialize(Topics.PREFETCH.name(), c)));
        }
        records.add(new ProducerRecord<>(Topics.SELECTIONS.name(), requestKey,
                Topics.SELECTIONS.valueSerde().serializer().serialize(Topics.SELECTIONS.name(), e)));
        records.add(new ProducerRecord<>(Topics.PASSES.name(), MODEL.getBytes(StandardCharsets.UTF_8),
                Topics.PASSES.valueSerde().serializer().serialize(Topics.PASSES.name(), forward)));
        return records;
    }

    /** Sends passes [from, to) of {@code source}, each once the previous one is in every policy's committed totals. */
    private static void run(String bootstrap, String source, int from, int to, KafkaConsumer<String, WaferMetrics> consumer,
                            Map<String, WaferMetrics> latest) throws Exception {
        for (int p = from; p < to; p++) {
            PoisonRecords.send(bootstrap, pass(source, p));
            int done = p + 1;
            Poll.until(Duration.ofSeconds(120), () -> {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> latest.put(r.key(), r.value()));
                return POLICIES.stream().allMatch(policy -> {
                    WaferMetrics m = latest.get(MODEL + "/" + source + "/" + policy);
                    return m != null && m.getPasses() == done;
                });
            }, source + " pass " + p + " emulated under every policy");
        }
    }

    /** The figures a restart must not change (everything but the source's name and the event time). */
    private static List<Object> figures(WaferMetrics m) {
        return List.of(m.getPasses(), m.getTokens(), m.getMoeTimeNs(), m.getMeanDieNs(), m.getHops(), m.getReads(),
                m.getLocalReads(), m.getRemoteReads(), m.getCopyReads(), m.getCopyWrites(), m.getLlcHits(),
                m.getLinkBytes(), m.getMaxPassLinkBytes(), m.getPrefetchUsed(), m.getPrefetchLate(),
                m.getPrefetchExpired(), m.getLastPassId());
    }

    @Test
    void killedEmulatorsGoOnWithTheSameWaferAndMatchAnUninterruptedRun() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createPipelineTopics(2);
            String bootstrap = kafka.bootstrapServers();
            Map<String, WaferMetrics> latest = new HashMap<>();
            try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ConsumerConfig.GROUP_ID_CONFIG, "totals",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                    new StringDeserializer(), Topics.WAFER_METRICS.valueSerde().deserializer())) {
                consumer.subscribe(List.of(Topics.WAFER_METRICS.name()));
                Process first = startChild(bootstrap, "first");
                run(bootstrap, "whole", 0, PASSES, consumer, latest);
                run(bootstrap, "killed", 0, 4, consumer, latest);
                first.destroyForcibly().waitFor();
                Process second = startChild(bootstrap, "second");
                run(bootstrap, "killed", 4, 8, consumer, latest);
                second.destroyForcibly().waitFor();
                startChild(bootstrap, "third");
                run(bootstrap, "killed", 8, PASSES, consumer, latest);
                List<String> differ = new ArrayList<>();
                for (String policy : POLICIES) {
                    List<Object> whole = figures(latest.get(MODEL + "/whole/" + policy));
                    List<Object> killed = figures(latest.get(MODEL + "/killed/" + policy));
                    if (!whole.equals(killed)) {
                        differ.add(policy + ": whole " + whole + ", killed " + killed);
                    }
                }
                assertEquals(List.of(), differ, "the killed run's totals vs the whole run's");
                WaferMetrics pred = latest.get(MODEL + "/whole/pred");
                // The wafer state mattered: the Pred policy read copies written on earlier passes.
                assertTrue(pred.getCopyReads() > 0 && pred.getCopyWrites() > 0, "copies written and read: " + pred);
            } finally {
                children.forEach(Process::destroyForcibly);
                for (Process p : children) {
                    p.waitFor();
                }
            }
        }
    }
}
