package io.expertcast.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A newcomer's first hour (issue 22): every command that talks to Kafka says within seconds that no
 * broker is there (naming the address and how to start one) or that the topics are missing (naming
 * `topics create`), finds the broker `broker start` recorded without being told, and lists the exit codes.
 */
class FirstHourTest {
    private static final String LOAD = "../data/sample/sglang-ep-stats/deepseek-v3/decode_in1000out1000.json";
    private static final String SGLANG_DUMPS = "../trace-replayer/src/test/resources/sglang/per_token";

    @TempDir
    Path tmp;

    /** What a command printed and returned. */
    record Run(int code, String output, double seconds) {
    }

    @AfterEach
    void forgetHome() {
        System.clearProperty("expertcast.home");
    }

    /** Runs a command as bin/expertcast would, capturing the picocli streams and System.out/err. */
    private static synchronized Run run(List<String> args) {
        StringWriter cli = new StringWriter();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream out = System.out;
        PrintStream err = System.err;
        long t0 = System.nanoTime();
        int code;
        try (PrintStream capture = new PrintStream(console, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            System.setErr(capture);
            CommandLine commandLine = ExpertcastCommand.commandLine();
            commandLine.setOut(new PrintWriter(cli, true));
            commandLine.setErr(new PrintWriter(cli, true));
            code = commandLine.execute(args.toArray(String[]::new));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        return new Run(code, cli + console.toString(StandardCharsets.UTF_8), (System.nanoTime() - t0) / 1e9);
    }

    /** One invocation of every command that talks to Kafka, without connection options. */
    private List<List<String>> kafkaCommands() {
        String state = tmp.resolve("state").toString();
        return List.of(
                List.of("replay", "--synth", "llama4-maverick", "--requests", "1"),
                List.of("import-sglang", "--dump-dir", SGLANG_DUMPS, "--replay"),
                List.of("predictor", "--state-dir", state, "--http-port", "0"),
                List.of("allocator", "--state-dir", state),
                List.of("emulator", "--state-dir", state, "--http-port", "-1"),
                List.of("rebalance", "--load", LOAD, "--max-moves", "1", "--publish"),
                List.of("dead-letters"),
                List.of("topics", "list"),
                List.of("topics", "create"));
    }

    private static int closedPort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Test
    void everyKafkaCommandSaysWithinSecondsThatNoBrokerIsThereAndHowToStartOne() throws Exception {
        String address = "127.0.0.1:" + closedPort();
        for (List<String> command : kafkaCommands()) {
            List<String> args = new ArrayList<>(command);
            args.addAll(List.of("--bootstrap", address, "--broker-wait", "1"));
            Run r = run(args);
            assertEquals(1, r.code(), command + ": " + r.output());
            assertTrue(r.output().contains("no broker at " + address), command + ": " + r.output());
            assertTrue(r.output().contains("broker start"), command + ": " + r.output());
            assertTrue(r.seconds() < 15, command + " took " + r.seconds() + " s");
        }
    }

    @Test
    void everyKafkaCommandFindsTheBrokerThatBrokerStartRecorded() throws Exception {
        int port = closedPort();
        // What `broker start --port P` leaves in <EXPERTCAST_HOME>/work/broker (it stays after a stop).
        Path broker = tmp.resolve("work/broker");
        Files.createDirectories(broker);
        Files.writeString(broker.resolve("server.properties"),
                "advertised.listeners=PLAINTEXT\\://127.0.0.1\\:" + port + "\n");
        System.setProperty("expertcast.home", tmp.toString());
        for (List<String> command : kafkaCommands()) {
            List<String> args = new ArrayList<>(command);
            args.addAll(List.of("--broker-wait", "1"));
            Run r = run(args);
            assertEquals(1, r.code(), command + ": " + r.output());
            assertTrue(r.output().contains("no broker at 127.0.0.1:" + port), command + ": " + r.output());
        }
    }

    @Test
    void aBrokerWithoutTopicsIsToldToRunTopicsCreate() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            for (List<String> command : kafkaCommands()) {
                if (command.get(0).equals("topics")) {
                    continue;
                }
                List<String> args = new ArrayList<>(command);
                args.addAll(List.of("--bootstrap", kafka.bootstrapServers()));
                Run r = run(args);
                assertEquals(1, r.code(), command + ": " + r.output());
                assertTrue(r.output().contains("bin/expertcast topics create --bootstrap " + kafka.bootstrapServers()),
                        command + ": " + r.output());
                assertTrue(r.seconds() < 15, command + " took " + r.seconds() + " s");
            }
            // ... and once they exist, dead-letters answers (nothing rejected yet).
            Run created = run(List.of("topics", "create", "--partitions", "1", "--bootstrap", kafka.bootstrapServers()));
            assertEquals(0, created.code(), created.output());
            // Compacted tables in small segments, so the broker compacts them within a short session.
            try (var admin = kafka.admin()) {
                var resource = new org.apache.kafka.common.config.ConfigResource(
                        org.apache.kafka.common.config.ConfigResource.Type.TOPIC, Topics.HEATMAPS.name());
                var config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
                assertEquals("16777216", config.get("segment.bytes").value());
                assertEquals("compact", config.get("cleanup.policy").value());
            }
            Run letters = run(List.of("dead-letters", "--bootstrap", kafka.bootstrapServers()));
            assertEquals(0, letters.code(), letters.output());
            assertTrue(letters.output().contains("no dead letters on " + Topics.DEAD_LETTER.name()), letters.output());

            // Three rejections by two stages: the latest two are shown with stage, source and reason.
            try (var producer = new org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]>(Map.of(
                    "bootstrap.servers", kafka.bootstrapServers()), new org.apache.kafka.common.serialization
                    .ByteArraySerializer(), new org.apache.kafka.common.serialization.ByteArraySerializer())) {
                String[][] letters3 = {{"p-predictor", "unknown model 'sglang-model'"},
                    {"a-allocator", "expert id 300 out of range 0..255 at MoE layer 4"},
                    {"p-predictor", "truncated record: 12 of 40 bytes"}};
                for (int i = 0; i < letters3.length; i++) {
                    var letter = io.expertcast.streams.DeadLetters.of(letters3[i][0], Topics.SELECTIONS.name(), 1, 100 + i,
                            letters3[i][1], "k".getBytes(), new byte[7]);
                    letter.setEventTimeMs(1_700_000_000_000L + i * 1000L);
                    producer.send(io.expertcast.streams.DeadLetters.toProducerRecord(letter)).get();
                }
            }
            Run latest = run(List.of("dead-letters", "--limit", "2", "--bootstrap", kafka.bootstrapServers()));
            assertEquals(0, latest.code(), latest.output());
            assertTrue(latest.output().contains("latest 2 of about 3 dead letters"), latest.output());
            assertTrue(latest.output().contains("a-allocator  moe.selections-1@101  expert id 300 out of range"),
                    latest.output());
            assertTrue(latest.output().contains("p-predictor  moe.selections-1@102  truncated record: 12 of 40 bytes"
                    + " (key 1 B, value 7 B)"), latest.output());
            // The letters' rows only (client log lines share the captured output): the oldest is not among them.
            String rows = latest.output().lines().filter(l -> l.matches("^\\d{4}-\\d{2}-\\d{2} .*"))
                    .collect(java.util.stream.Collectors.joining("\n"));
            assertEquals(2, rows.lines().count(), "only the latest two: " + latest.output());
            assertTrue(!rows.contains("sglang-model"), "only the latest two: " + latest.output());
            Run predictor = run(List.of("dead-letters", "--application", "predictor", "--bootstrap",
                    kafka.bootstrapServers()));
            assertTrue(predictor.output().contains("unknown model 'sglang-model'")
                    && !predictor.output().contains("a-allocator"), predictor.output());
        }
    }

    @Test
    void aSigtermedReplayPrintsWhatItSentAndHowToGoOn() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopics(Topics.ALL.stream().map(t -> new org.apache.kafka.clients.admin.NewTopic(t.name(), 1,
                    (short) 1)).toList());
            ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "io.expertcast.launcher.Main", "replay", "--synth", "llama4-maverick", "--requests", "40",
                    "--rate", "150", "--replay-id", "stopped", "--bootstrap", kafka.bootstrapServers())
                    .redirectErrorStream(true).redirectOutput(tmp.resolve("replay.log").toFile());
            builder.environment().put("CLASSPATH", System.getProperty("java.class.path"));
            Process replay = builder.start();
            try (var admin = kafka.admin()) {
                var checkpoints = new org.apache.kafka.common.TopicPartition(Topics.REPLAY_CHECKPOINTS.name(), 0);
                long deadline = System.nanoTime() + 120_000_000_000L;
                // SIGTERM once the replay has committed a checkpoint (every 50 passes), so it is mid-run.
                while (replay.isAlive() && System.nanoTime() < deadline && admin.listOffsets(Map.of(checkpoints,
                        org.apache.kafka.clients.admin.OffsetSpec.latest())).partitionResult(checkpoints).get()
                        .offset() == 0) {
                    Thread.sleep(200);
                }
            }
            replay.destroy(); // SIGTERM
            assertTrue(replay.waitFor(90, java.util.concurrent.TimeUnit.SECONDS));
            String output = Files.readString(tmp.resolve("replay.log"));
            assertEquals(143, replay.exitValue(), output);
            assertTrue(output.contains("interrupted after sending "), output);
            assertTrue(output.contains("run the same command again to continue replay stopped"), output);
        }
    }

    @Test
    void everyCommandsHelpListsTheExitCodes() {
        CommandLine root = ExpertcastCommand.commandLine();
        List<CommandLine> all = new ArrayList<>();
        collect(root, all);
        assertTrue(all.size() > 15, "" + all.size());
        for (CommandLine c : all) {
            String usage = c.getUsageMessage();
            assertTrue(usage.contains("Exit codes:") && usage.contains("no broker, missing topics"),
                    c.getCommandSpec().qualifiedName() + ":\n" + usage);
        }
        Map<String, String> codes = ExpertcastCommand.EXIT_CODES;
        assertEquals(List.of("0", "1", "2", "130/143"), List.copyOf(codes.keySet()));
    }

    private static void collect(CommandLine c, List<CommandLine> into) {
        into.add(c);
        c.getSubcommands().values().forEach(s -> collect(s, into));
    }
}
