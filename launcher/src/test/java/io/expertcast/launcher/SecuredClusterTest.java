package io.expertcast.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.emulator.EmulatorSettings;
import io.expertcast.local.LocalBroker;
import io.expertcast.launcher.demo.ExpectedOutputs;
import io.expertcast.launcher.demo.PipelineOutputs;
import io.expertcast.launcher.demo.PipelineStages;
import io.expertcast.predictor.PredictorSettings;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.connect.KafkaConnection;
import io.expertcast.streams.connect.PreflightException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The pipeline against a broker that only speaks TLS with SASL/SCRAM (issue 19, item 6): the script's
 * broker (LocalBroker, a separate JVM) with one SASL_SSL listener and SCRAM users created at format;
 * `topics create` and `replay` reach it through --config, the three stages through the same client
 * properties, and every expected output arrives; a client without credentials, or with a wrong
 * password, is refused with a message that says so.
 */
class SecuredClusterTest {
    private static final String PASSWORD = "store-secret";
    private static final Path SAMPLE = Path.of("..", "data", "sample");

    @TempDir
    Path tmp;

    @Test
    void thePipelineRunsOverTlsAndScramAndAClientWithoutCredentialsIsRefused() throws Exception {
        Path keystore = tmp.resolve("broker.p12");
        Path truststore = tmp.resolve("trust.p12");
        makeKeystores(keystore, truststore);
        int port = freePort();
        int controllerPort = freePort();
        Map<String, Object> client = new HashMap<>(Map.of(
                "security.protocol", "SASL_SSL",
                "sasl.mechanism", "SCRAM-SHA-256",
                "sasl.jaas.config", jaas("pipeline", "pipeline-secret"),
                "ssl.truststore.location", truststore.toString(),
                "ssl.truststore.password", PASSWORD,
                "ssl.truststore.type", "PKCS12"));
        Map<String, String> server = new HashMap<>();
        server.put("listeners", "SASL_SSL://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        server.put("advertised.listeners", "SASL_SSL://127.0.0.1:" + port);
        server.put("listener.security.protocol.map", "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT");
        server.put("inter.broker.listener.name", "SASL_SSL");
        server.put("sasl.enabled.mechanisms", "SCRAM-SHA-256");
        server.put("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-256");
        server.put("listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config", jaas("admin", "admin-secret"));
        server.put("ssl.keystore.location", keystore.toString());
        server.put("ssl.keystore.password", PASSWORD);
        server.put("ssl.key.password", PASSWORD);
        server.put("ssl.keystore.type", "PKCS12");
        server.put("ssl.truststore.location", truststore.toString());
        server.put("ssl.truststore.password", PASSWORD);
        server.put("ssl.truststore.type", "PKCS12");
        LocalBroker.Security security = new LocalBroker.Security(server,
                List.of("SCRAM-SHA-256=[name=admin,password=admin-secret]",
                        "SCRAM-SHA-256=[name=pipeline,password=pipeline-secret]"), withAdmin(client));
        LocalBroker broker = new LocalBroker(tmp.resolve("work"), port, controllerPort,
                System.getProperty("java.class.path"), List.of("-Xms64m", "-Xmx384m"), security);
        String bootstrap = broker.bootstrapServers();
        Path config = tmp.resolve("client.properties");
        Properties file = new Properties();
        client.forEach((k, v) -> file.setProperty(k, v.toString()));
        try (var out = Files.newOutputStream(config)) {
            file.store(out, "SecuredClusterTest client");
        }
        broker.start(Duration.ofSeconds(90));
        try {
            Run topics = run("topics", "create", "--partitions", "2", "--bootstrap", bootstrap, "--config", config.toString());
            assertEquals(0, topics.code(), topics.output());

            // Refused: no credentials (a plaintext client on the TLS listener), and a wrong password.
            Run plain = run("topics", "list", "--bootstrap", bootstrap, "--timeout", "5");
            assertEquals(1, plain.code(), plain.output());
            Run plainReplay = run("replay", "--traces", SAMPLE.toString(), "--limit", "1", "--bootstrap", bootstrap);
            assertEquals(1, plainReplay.code(), plainReplay.output());
            assertTrue(plainReplay.output().contains("replay: the broker at " + bootstrap)
                    && plainReplay.output().contains("needs security.protocol"), plainReplay.output());
            Map<String, String> wrongPassword = new HashMap<>();
            client.forEach((k, v) -> wrongPassword.put(k, v.toString()));
            wrongPassword.put("sasl.jaas.config", jaas("pipeline", "not-the-password"));
            PreflightException refused = assertThrows(PreflightException.class,
                    () -> BrokerPreflight.requirePipelineTopics(KafkaConnection.of(bootstrap, wrongPassword)));
            assertTrue(refused.getMessage().contains("refused the credentials"), refused.getMessage());

            // The three stages with the same properties, then the replay command with --config.
            int limit = 6;
            int batch = 3;
            ExpectedOutputs expected = ExpectedOutputs.of(SAMPLE, ModelCatalog.standard(), limit, batch, 256,
                    PredictorSettings.defaults().n());
            Map<String, Object> overrides = new HashMap<>(client);
            overrides.put("commit.interval.ms", 100);
            try (PipelineStages stages = PipelineStages.start(bootstrap, tmp.resolve("state"), "secured-", overrides)) {
                stages.awaitRunning(Duration.ofSeconds(90));
                Run replay = run("replay", "--traces", SAMPLE.toString(), "--limit", "" + limit, "--batch", "" + batch,
                        "--bootstrap", bootstrap, "--config", config.toString());
                assertEquals(0, replay.code(), replay.output());
                assertTrue(replay.output().contains("replayed " + limit + " requests"), replay.output());
                List<String> policies = EmulatorSettings.defaults().policies();
                try (PipelineOutputs outputs = new PipelineOutputs(bootstrap, client)) {
                    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                    while (!expected.reachedBy(outputs, policies) && System.nanoTime() < deadline) {
                        outputs.poll(Duration.ofMillis(500));
                    }
                    assertTrue(expected.reachedBy(outputs, policies), expected.missing(outputs) + "; " + stages.states());
                }
            }
        } finally {
            broker.stop(Duration.ofSeconds(20));
        }
    }

    private static Map<String, Object> withAdmin(Map<String, Object> client) {
        Map<String, Object> admin = new HashMap<>(client);
        admin.put("sasl.jaas.config", jaas("admin", "admin-secret"));
        return admin;
    }

    private static String jaas(String user, String password) {
        return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + user
                + "\" password=\"" + password + "\";";
    }

    /** A self-signed key for 127.0.0.1 (so clients verify the host name) and a truststore holding its certificate. */
    private void makeKeystores(Path keystore, Path truststore) throws Exception {
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        Path cert = tmp.resolve("broker.crt");
        keytool(keytool, "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=IP:127.0.0.1,DNS:localhost", "-keystore", keystore.toString(),
                "-storetype", "PKCS12", "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool(keytool, "-exportcert", "-rfc", "-alias", "broker", "-keystore", keystore.toString(), "-storetype",
                "PKCS12", "-storepass", PASSWORD, "-file", cert.toString());
        keytool(keytool, "-importcert", "-noprompt", "-alias", "broker", "-file", cert.toString(), "-keystore",
                truststore.toString(), "-storetype", "PKCS12", "-storepass", PASSWORD);
    }

    private static void keytool(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", command) + ":\n" + output);
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    record Run(int code, String output) {
    }

    private static synchronized Run run(String... args) {
        StringWriter cli = new StringWriter();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream out = System.out;
        PrintStream err = System.err;
        int code;
        try (PrintStream capture = new PrintStream(console, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            System.setErr(capture);
            CommandLine commandLine = ExpertcastCommand.commandLine();
            commandLine.setOut(new PrintWriter(cli, true));
            commandLine.setErr(new PrintWriter(cli, true));
            code = commandLine.execute(new ArrayList<>(List.of(args)).toArray(String[]::new));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        return new Run(code, cli + console.toString(StandardCharsets.UTF_8));
    }
}
