package io.expertcast.streams.connect;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.schemas.Topics;
import io.expertcast.streams.testing.EmbeddedKafka;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;

class BrokerPreflightTest {

    @Test
    void noBrokerIsSaidWithinSecondsNamingTheAddressAndTheFix() throws Exception {
        int closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = socket.getLocalPort();
        }
        KafkaConnection c = KafkaConnection.of("127.0.0.1:" + closed, Map.of());
        long t0 = System.nanoTime();
        PreflightException e = assertThrows(PreflightException.class, () -> BrokerPreflight.requirePipelineTopics(c));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(seconds < 10, "took " + seconds + " s");
        assertTrue(e.getMessage().contains("no broker at 127.0.0.1:" + closed), e.getMessage());
        assertTrue(e.getMessage().contains("bin/expertcast broker start"), e.getMessage());
    }

    @Test
    void aBrokerWithoutThePipelinesTopicsIsToldToCreateThem() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            KafkaConnection c = KafkaConnection.of(kafka.bootstrapServers(), Map.of());
            PreflightException e = assertThrows(PreflightException.class, () -> BrokerPreflight.requirePipelineTopics(c));
            assertTrue(e.getMessage().contains("bin/expertcast topics create --bootstrap " + kafka.bootstrapServers()),
                    e.getMessage());
            assertTrue(e.getMessage().contains("lacks " + Topics.ALL.size() + " of"), e.getMessage());

            kafka.createTopics(Topics.ALL.stream().map(t -> new NewTopic(t.name(), 1, (short) 1)).toList());
            assertDoesNotThrow(() -> BrokerPreflight.requirePipelineTopics(c));
            assertDoesNotThrow(() -> BrokerPreflight.require(c, List.of(Topics.DEAD_LETTER)));
        }
    }

    @Test
    void somethingThatIsNotKafkaIsNotMistakenForABroker() throws Exception {
        try (ServerSocket silent = new ServerSocket(0)) { // accepts TCP, never answers
            KafkaConnection c = KafkaConnection.of("127.0.0.1:" + silent.getLocalPort(), Map.of());
            PreflightException e = assertThrows(PreflightException.class, () -> BrokerPreflight.requirePipelineTopics(c));
            assertTrue(e.getMessage().contains("127.0.0.1:" + silent.getLocalPort()), e.getMessage());
            assertTrue(e.getMessage().contains("security.protocol"), e.getMessage());
        }
    }

    @Test
    void bootstrapListsAreParsed() {
        assertEquals(2, BrokerPreflight.parse("kafka:9092, 127.0.0.1:9093").length);
        assertEquals(9092, BrokerPreflight.parse("[::1]:9092")[0].getPort());
        assertEquals(9093, BrokerPreflight.parse("SASL_SSL://kafka:9093")[0].getPort());
        assertThrows(PreflightException.class, () -> BrokerPreflight.parse("kafka:99999"));
        assertThrows(PreflightException.class, () -> BrokerPreflight.parse("kafka:"));
    }
}
