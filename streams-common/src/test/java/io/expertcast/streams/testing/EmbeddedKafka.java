package io.expertcast.streams.testing;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A real single-node KRaft broker in this JVM (KafkaClusterTestKit), with the settings a
 * one-broker cluster needs for consumer groups and transactions to work.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private final KafkaClusterTestKit cluster;

    private EmbeddedKafka(KafkaClusterTestKit cluster) {
        this.cluster = cluster;
    }

    public static EmbeddedKafka start() throws Exception {
        KafkaClusterTestKit cluster = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                .setCombined(true)
                .setNumBrokerNodes(1)
                .setNumControllerNodes(1)
                .build())
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("offsets.topic.num.partitions", "2")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .setConfigProp("transaction.state.log.min.isr", "1")
                .setConfigProp("transaction.state.log.num.partitions", "2")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .build();
        cluster.format();
        cluster.startup();
        cluster.waitForReadyBrokers();
        return new EmbeddedKafka(cluster);
    }

    public String bootstrapServers() {
        return cluster.bootstrapServers();
    }

    public Admin admin() {
        return Admin.create(Map.of("bootstrap.servers", bootstrapServers()));
    }

    public void createTopics(Collection<NewTopic> topics) throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(topics).all().get();
        }
    }

    /** Every topic of the registry ({@code Topics.ALL}), each with {@code partitions} partitions. */
    public void createPipelineTopics(int partitions) throws Exception {
        List<NewTopic> topics = new java.util.ArrayList<>();
        for (var topic : io.expertcast.schemas.Topics.ALL) {
            topics.add(new NewTopic(topic.name(), partitions, (short) 1));
        }
        createTopics(topics);
    }

    public void createTopic(String name, int partitions) throws Exception {
        createTopics(List.of(new NewTopic(name, partitions, (short) 1)));
    }

    @Override
    public void close() throws Exception {
        cluster.close();
    }
}
