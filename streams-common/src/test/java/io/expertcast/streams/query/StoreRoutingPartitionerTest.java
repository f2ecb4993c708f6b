package io.expertcast.streams.query;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.streams.StreamsSettings;
import io.expertcast.streams.testing.EmbeddedKafka;
import io.expertcast.streams.testing.Poll;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 item 8: a store fed by a topic whose producer placed keys with librdkafka's default
 * partitioner (consistent_random: CRC32 of the key) answers an interactive query for every key, on
 * either of two instances, though Kafka Streams locates keys by murmur2.
 */
class StoreRoutingPartitionerTest {
    private static final String TOPIC = "iq-input";
    private static final String STORE = "iq-store";
    private static final int PARTITIONS = 4;

    @TempDir
    Path stateA;
    @TempDir
    Path stateB;

    /** librdkafka's consistent_random: rd_crc32(key) % partition count (zlib's CRC-32, as java.util.zip). */
    static int crc32Partition(String key) {
        CRC32 crc = new CRC32();
        crc.update(key.getBytes(StandardCharsets.UTF_8));
        return (int) (crc.getValue() % PARTITIONS);
    }

    static int murmur2Partition(String key) {
        return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % PARTITIONS;
    }

    private record Instance(KafkaStreams streams, QueryServer server) implements AutoCloseable {
        @Override
        public void close() {
            server.close();
            streams.close(Duration.ofSeconds(20));
        }
    }

    private static Instance start(String bootstrap, Path stateDir) throws Exception {
        QueryServer server = QueryServer.bind(0);
        StreamsBuilder builder = new StreamsBuilder();
        builder.table(TOPIC, Consumed.with(Serdes.String(), Serdes.String()), Materialized.as(STORE));
        var props = StreamsSettings.base("iq-test", bootstrap, stateDir, Map.of(
                StreamsConfig.APPLICATION_SERVER_CONFIG, server.advertisedAddress(),
                StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE));
        KafkaStreams streams = new KafkaStreams(builder.build(props), props);
        StoreRouting routing = new StoreRouting(() -> streams, server.hostInfo());
        ObjectMapper json = new ObjectMapper();
        server.route("/keys", request -> {
            String key = String.join("/", request.segments());
            StoreRouting.Search<String> found = routing.search(STORE, key, Serdes.String().serializer(), request, server);
            if (found instanceof StoreRouting.Search.There<String> there) {
                return there.reply();
            }
            if (found instanceof StoreRouting.Search.Here<String> here) {
                return QueryReply.ok(json.createObjectNode().put("value", here.value())
                        .put("partition", here.partition()).put("servedBy", server.advertisedAddress()));
            }
            throw QueryException.notFound("no key " + key);
        }).start();
        streams.start();
        return new Instance(streams, server);
    }

    private static int activeTasks(Instance i) {
        if (i.streams().state() != KafkaStreams.State.RUNNING) {
            return -1;
        }
        return i.streams().metadataForLocalThreads().stream().mapToInt(t -> t.activeTasks().size()).sum();
    }

    @Test
    void keysPlacedByCrc32AreFoundOnEveryInstance() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopic(TOPIC, PARTITIONS);
            List<String> keys = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                keys.add("llama4-maverick/mmlu/anatomy/" + i);
            }
            long misplaced = keys.stream().filter(k -> crc32Partition(k) != murmur2Partition(k)).count();
            assertTrue(misplaced >= 6, "most keys are elsewhere under CRC32 than under murmur2: " + misplaced);
            try (var producer = new KafkaProducer<>(Map.<String, Object>of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()),
                    new StringSerializer(), new StringSerializer())) {
                for (String key : keys) {
                    producer.send(new ProducerRecord<>(TOPIC, crc32Partition(key), key, "v-" + key)).get();
                }
            }
            try (Instance a = start(kafka.bootstrapServers(), stateA); Instance b = start(kafka.bootstrapServers(), stateB)) {
                Poll.until(Duration.ofSeconds(60), () -> activeTasks(a) == 2 && activeTasks(b) == 2,
                        "the four partitions split over the two instances");
                HttpClient http = HttpClient.newHttpClient();
                ObjectMapper json = new ObjectMapper();
                java.util.Set<String> servers = new java.util.HashSet<>();
                for (Instance asked : List.of(a, b)) {
                    for (String key : keys) {
                        URI uri = URI.create("http://" + asked.server().advertisedAddress() + "/keys/" + key);
                        JsonNode[] body = new JsonNode[1];
                        // 503 while the two instances rebalance and restore; 404 until the tables have the keys.
                        Poll.until(Duration.ofSeconds(60), () -> {
                            try {
                                HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).GET().build(),
                                        HttpResponse.BodyHandlers.ofString());
                                body[0] = json.readTree(r.body());
                                return r.statusCode() == 200
                                        && a.streams().state() == KafkaStreams.State.RUNNING
                                        && b.streams().state() == KafkaStreams.State.RUNNING;
                            } catch (Exception e) {
                                return false;
                            }
                        }, "key " + key + " on " + asked.server().advertisedAddress());
                        assertEquals("v-" + key, body[0].get("value").asText());
                        servers.add(body[0].get("servedBy").asText());
                        assertEquals(crc32Partition(key), body[0].get("partition").asInt(), "read where the producer put it");
                    }
                }
                assertEquals(2, servers.size(), "keys were found on both instances: " + servers);
                HttpResponse<String> missing = http.send(HttpRequest.newBuilder(URI.create(
                        "http://" + a.server().advertisedAddress() + "/keys/no/such/key")).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(404, missing.statusCode());
            }
        }
    }
}
