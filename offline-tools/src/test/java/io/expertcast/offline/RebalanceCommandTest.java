package io.expertcast.offline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.testing.ConsoleCapture;
import io.expertcast.core.testing.ConsoleCapture.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import io.expertcast.allocator.AllocatorApp;
import io.expertcast.allocator.AllocatorSettings;

class RebalanceCommandTest {
    private static final String LOAD = "../data/sample/sglang-ep-stats/deepseek-v3/decode_in1000out1000.json";

    @TempDir
    Path temp;

    private static Run run(String... args) {
        return ConsoleCapture.run(() -> new CommandLine(new RebalanceCommand()).execute(args));
    }

    @Test
    void moreMovesBuyBetterBalanceAndNoLayerExceedsItsBudget() {
        Run r = run("--load", LOAD, "--max-moves", "0,8,64");
        assertEquals(0, r.exit(), r.err());
        List<String> rows = r.out().lines().skip(2).toList();
        assertEquals(3, rows.size(), r.out());
        double[] balance = new double[3];
        int[] moved = new int[3];
        for (int i = 0; i < 3; i++) {
            String[] f = rows.get(i).trim().split("\\s+");
            moved[i] = Integer.parseInt(f[1]);
            balance[i] = Double.parseDouble(f[3]);
        }
        assertEquals(0, moved[0]);
        assertTrue(moved[1] > 0 && moved[1] <= 8 * 58, r.out());
        assertTrue(moved[2] > moved[1] && moved[2] <= 64 * 58, r.out());
        assertTrue(balance[0] > balance[1] && balance[1] > balance[2], r.out());
        assertTrue(r.out().startsWith("deepseek-v3 on dojo-5x5: 14 copies per layer per die fit HBM; target hot-replicate "
                + "with 69 redundant experts"), r.out());
    }

    @Test
    void aLoadFileOfTheWrongShapeForTheModelIsAClearError() throws Exception {
        Path bad = temp.resolve("qwen.json");
        Files.writeString(bad, "{\"logical_count\": [[1, 2, 3], [4, 5, 6]]}");
        Run r = run("--load", bad.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("qwen.json: logical_count is 2 layers x 3 experts, deepseek-v3 has 61 x 256"), r.err());
        Run policy = run("--load", LOAD, "--policy", "lru");
        assertEquals(2, policy.exit());
        assertTrue(policy.err().contains("unknown placement policy 'lru'"), policy.err());
    }

    @Test
    void aWaferWhoseHbmCannotHoldTheModelIsAClearError() throws Exception {
        // dojo-5x5 with half the HBM: 36 GB usable hold 7 DeepSeek copies per layer per die, 256 experts need 11 + a spare.
        Path mesh = temp.resolve("small-hbm.properties");
        Files.writeString(mesh, String.join("\n", "name=small-hbm", "rows=5", "cols=5", "peak_flops_per_s=989e12",
                "hbm_bytes=40e9", "hbm_bytes_per_s=3.35e12", "link_bytes_per_s=1.7e12", "hop_latency_ns=200",
                "llc_bytes=67108864", "llc_hit_ns=100", "llc_miss_extra_ns=110", "llc_write_ns=30", "hbm_access_ns=300",
                "command_bytes=16", "dram_reserved_fraction=0.10", ""));
        Run r = run("--load", LOAD, "--mesh", mesh.toString());
        assertEquals(2, r.exit(), r.out() + r.err());
        assertTrue(r.err().contains("rebalance: placement beyond HBM capacity: deepseek-v3 on small-hbm needs 12 copies "
                + "per layer per die (one a spare for swaps), its 36.0 GB usable HBM per die hold 7"), r.err());
    }

    /** docs/placement.md's loop: rebalance --publish, a running allocator applies every command to moe.placement. */
    @Test
    void publishedMovesAreAppliedByARunningAllocator() throws Exception {
        try (var kafka = io.expertcast.streams.testing.EmbeddedKafka.start()) {
            for (var topic : List.of(io.expertcast.schemas.Topics.SELECTIONS, io.expertcast.schemas.Topics.PASSES,
                    io.expertcast.schemas.Topics.ALLOCATIONS, io.expertcast.schemas.Topics.ALLOCATOR_METRICS,
                    io.expertcast.schemas.Topics.PLACEMENT, io.expertcast.schemas.Topics.PLACEMENT_COMMANDS,
                    io.expertcast.schemas.Topics.DEAD_LETTER, io.expertcast.schemas.Topics.EXPERT_LOAD)) {
                kafka.createTopic(topic.name(), 1);
            }
            Run r = run("--load", LOAD, "--max-moves", "2", "--publish", kafka.bootstrapServers());
            assertEquals(0, r.exit(), r.err());
            assertTrue(r.out().contains("sent 116 placement commands to moe.placement-commands"), r.out());
            var rows = new java.util.ArrayList<io.expertcast.schemas.PlacementEntry>();
            try (var streams = AllocatorApp.start(kafka.bootstrapServers(), temp.resolve("state"),
                    AllocatorSettings.defaults(), java.util.Map.of());
                 var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<>(java.util.Map.<String, Object>of(
                         org.apache.kafka.clients.consumer.ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                         org.apache.kafka.clients.consumer.ConsumerConfig.GROUP_ID_CONFIG, "rebalance-test",
                         org.apache.kafka.clients.consumer.ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                         org.apache.kafka.clients.consumer.ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                         new org.apache.kafka.common.serialization.StringDeserializer(),
                         io.expertcast.schemas.Topics.PLACEMENT.valueSerde().deserializer())) {
                consumer.subscribe(List.of(io.expertcast.schemas.Topics.PLACEMENT.name()));
                io.expertcast.streams.testing.Poll.until(java.time.Duration.ofSeconds(60), () -> {
                    consumer.poll(java.time.Duration.ofMillis(200)).forEach(x -> rows.add(x.value()));
                    return rows.size() >= 116;
                }, "116 table rows on moe.placement");
            }
            assertEquals(116, rows.size());
            // Two new copies per MoE layer, homes untouched (hot-replicate's moves are REPLICATEs from the EP table).
            for (int layer = 0; layer < 58; layer++) {
                int l = layer;
                assertEquals(2, rows.stream().filter(x -> x.getLayer() == l).count(), "layer " + layer);
            }
            for (var row : rows) {
                assertEquals(io.expertcast.core.placement.EvenPlacement.homeDie(row.getExpert(), 256, 25), row.getHomeDie());
                assertTrue(!row.getReplicaDies().isEmpty(), row.toString());
            }
        }
    }
}
