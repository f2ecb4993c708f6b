package io.expertcast.streams.connect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

class KafkaConnectionTest {
    @TempDir
    Path work;

    @Command(name = "probe")
    static final class Probe implements Runnable {
        @Mixin
        KafkaConnection kafka = new KafkaConnection();

        @Override
        public void run() {
        }
    }

    private KafkaConnection parse(String... args) {
        Probe probe = new Probe();
        new CommandLine(probe).parseArgs(args);
        return probe.kafka.withWorkDir(work);
    }

    private void recordLocalBroker(int port) throws Exception {
        Files.createDirectories(work.resolve("broker"));
        // As LocalBroker writes it (java.util.Properties escapes the colons).
        Files.writeString(work.resolve("broker/server.properties"),
                "advertised.listeners=PLAINTEXT\\://127.0.0.1\\:" + port + "\nnode.id=1\n");
    }

    @Test
    void withoutAnythingTheDefaultPortIsUsed() {
        assertEquals("127.0.0.1:9092", parse().bootstrap());
        assertEquals("the default", parse().bootstrapOrigin());
    }

    @Test
    void theBrokerThatBrokerStartRecordedIsFoundUnlessToldOtherwise() throws Exception {
        recordLocalBroker(29592);
        assertEquals("127.0.0.1:29592", parse().bootstrap());
        assertTrue(parse().bootstrapOrigin().contains("broker start"), parse().bootstrapOrigin());
        assertEquals("10.0.0.1:9092", parse("--bootstrap", "10.0.0.1:9092").bootstrap());
        assertEquals("10.0.0.2:9092", parse("--property", "bootstrap.servers=10.0.0.2:9092").bootstrap());
    }

    @Test
    void configFileThenPropertiesWinOverTheCommandsOverrides() throws Exception {
        Path config = work.resolve("client.properties");
        Files.writeString(config, "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\n"
                + "bootstrap.servers=broker.example:9093\n");
        KafkaConnection c = parse("--config", config.toString(), "--property", "sasl.mechanism=SCRAM-SHA-512",
                "--property", "client.id=x");
        assertEquals("broker.example:9093", c.bootstrap());
        Map<String, Object> props = c.clientProperties();
        assertEquals("SASL_SSL", props.get("security.protocol"));
        assertEquals("SCRAM-SHA-512", props.get("sasl.mechanism"));
        assertEquals("x", props.get("client.id"));
        Map<String, Object> merged = c.overrides(Map.of("num.stream.threads", 2, "client.id", "mine"));
        assertEquals(2, merged.get("num.stream.threads"));
        assertEquals("x", merged.get("client.id"));
        assertEquals("broker.example:9093", parse("--config", config.toString()).clientPropertiesWithBootstrap()
                .get("bootstrap.servers"));
        assertTrue(c.flagsForMessage().contains("--config " + config), c.flagsForMessage());
    }

    @Test
    void anUnreadableConfigFileIsNamed() {
        KafkaConnection c = parse("--config", work.resolve("missing.properties").toString());
        UncheckedIOException e = assertThrows(UncheckedIOException.class, c::clientProperties);
        assertTrue(e.getMessage().contains("missing.properties"), e.getMessage());
    }
}
