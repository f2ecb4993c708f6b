package io.expertcast.local;

import io.expertcast.schemas.Topic;
import io.expertcast.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates and lists the pipeline's topics on any Kafka cluster. Creation is idempotent: topics that
 * exist are reported, never altered, and a cleanup policy that differs from the registry's is
 * reported as a mismatch (a compacted table topic on delete would lose the table). A topic of 3
 * replicas or more is created with {@code min.insync.replicas=2} ({@link #minInSync}).
 */
public final class TopicAdmin implements AutoCloseable {

    private final Admin admin;
    private final Duration timeout;

    /**
     * @param bootstrap bootstrap servers
     * @param timeout   bound of each admin call; a cluster that does not answer fails within it
     */
    public TopicAdmin(String bootstrap, Duration timeout) {
        this(bootstrap, Map.of(), timeout);
    }

    /** As above, with Kafka client properties (TLS, SASL, ...) on top. */
    public TopicAdmin(String bootstrap, Map<String, ?> clientProperties, Duration timeout) {
        this.timeout = timeout;
        int millis = (int) timeout.toMillis();
        Properties config = new Properties();
        config.putAll(clientProperties);
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, millis);
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, millis);
        config.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1000);
        config.put(AdminClientConfig.CLIENT_ID_CONFIG, "expertcast-topics");
        this.admin = Admin.create(config);
    }

    /**
     * Creates every topic of {@code topics} that does not exist yet, with {@code cleanup.policy=compact}
     * where {@link Topic#compacted()}, else {@code delete}.
     *
     * @throws TopicAdminException if the cluster does not answer or refuses a creation (e.g. more
     *                             replicas than brokers)
     */
    public Creation createAll(Collection<? extends Topic<?, ?>> topics, int partitions, short replicationFactor) {
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be at least 1, got " + partitions);
        }
        if (replicationFactor < 1) {
            throw new IllegalArgumentException("replication factor must be at least 1, got " + replicationFactor);
        }
        Set<String> existing = await(admin.listTopics(new ListTopicsOptions().listInternal(false)).names(),
                "list topics");
        List<NewTopic> toCreate = new ArrayList<>();
        List<String> present = new ArrayList<>();
        for (Topic<?, ?> topic : topics) {
            if (existing.contains(topic.name())) {
                present.add(topic.name());
            } else {
                Map<String, String> configs = new java.util.HashMap<>(configs(topic));
                configs.put(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, Integer.toString(minInSync(replicationFactor)));
                toCreate.add(new NewTopic(topic.name(), partitions, replicationFactor).configs(configs));
            }
        }
        List<String> created = new ArrayList<>();
        Map<String, KafkaFuture<Void>> results = toCreate.isEmpty() ? Map.of()
                : admin.createTopics(toCreate).values();
        for (NewTopic topic : toCreate) {
            try {
                await(results.get(topic.name()), "create " + topic.name());
                created.add(topic.name());
            } catch (TopicAdminException e) {
                // Another client created it between our list and our create: that is the goal reached.
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
                present.add(topic.name());
            }
        }
        List<String> mismatches = new ArrayList<>();
        Map<String, String> policies = cleanupPolicies(present);
        for (Topic<?, ?> topic : topics) {
            String actual = policies.get(topic.name());
            if (actual != null && !actual.equals(cleanupPolicy(topic))) {
                mismatches.add(topic.name() + " has cleanup.policy=" + actual + ", expected " + cleanupPolicy(topic));
            }
        }
        return new Creation(created, present, mismatches);
    }

    /** Replicas in sync a write needs: 2 of 3 or more (one replica may be lost), else 1. */
    public static int minInSync(int replicationFactor) {
        return Math.max(1, Math.min(2, replicationFactor - 1));
    }

    /** The replication factor a topic of this cluster should have: min(3, its brokers). */
    public short defaultReplicationFactor() {
        int brokers = await(admin.describeCluster().nodes(), "describe cluster").size();
        return (short) Math.max(1, Math.min(3, brokers));
    }

    /** Every non-internal topic of the cluster with its partition count and cleanup policy, sorted by name. */
    public List<TopicInfo> list() {
        Set<String> names = await(admin.listTopics(new ListTopicsOptions().listInternal(false)).names(),
                "list topics");
        if (names.isEmpty()) {
            return List.of();
        }
        Map<String, TopicDescription> descriptions = await(admin.describeTopics(names).allTopicNames(),
                "describe topics");
        Map<String, String> policies = cleanupPolicies(names);
        List<TopicInfo> infos = new ArrayList<>();
        for (TopicDescription description : descriptions.values()) {
            int replicas = description.partitions().isEmpty() ? 0 : description.partitions().get(0).replicas().size();
            infos.add(new TopicInfo(description.name(), description.partitions().size(), replicas,
                    policies.getOrDefault(description.name(), "?")));
        }
        infos.sort(Comparator.comparing(TopicInfo::name));
        return infos;
    }

    /**
     * Bytes on disk per topic, summed over partitions and replicas (every broker's log dirs): what the
     * pipeline and its Streams applications' changelogs take.
     */
    public Map<String, Long> sizes() {
        Collection<org.apache.kafka.common.Node> nodes = await(admin.describeCluster().nodes(), "describe cluster");
        List<Integer> brokers = nodes.stream().map(org.apache.kafka.common.Node::id).toList();
        Map<String, Long> bytes = new HashMap<>();
        var dirs = await(admin.describeLogDirs(brokers).allDescriptions(), "describe log dirs");
        dirs.values().forEach(byDir -> byDir.values().forEach(dir -> dir.replicaInfos().forEach(
                (partition, replica) -> bytes.merge(partition.topic(), replica.size(), Long::sum))));
        return bytes;
    }

    /** Segment size of the compacted pipeline topics: the broker compacts only closed segments. */
    public static final int COMPACTED_SEGMENT_BYTES = 16 * 1024 * 1024;

    /** How long moe.heatmap-lessons keeps what the predictor's heatmap aggregator may have to replay. */
    public static final java.time.Duration HEATMAP_LESSONS_RETENTION = java.time.Duration.ofHours(1);

    /**
     * A topic's settings: its cleanup policy; a compacted one (a table: heatmaps, prediction tables,
     * placement) also small segments and a low dirty ratio, or the broker compacts nothing before a 1 GB
     * segment closes and the topic grows by every write (docs/changelog-growth.md).
     */
    public static Map<String, String> configs(Topic<?, ?> topic) {
        if (topic.name().equals(Topics.HEATMAP_LESSONS.name())) {
            // Read back only by a restarting predictor, from its last whole heatmap snapshot (at most a snapshot
            // interval, 60 s, old) on: an hour covers that plus a long stop, without keeping days of lessons
            // (~2 MB/s at DeepSeek-V3's sustained rate). Older lessons a restore needs are counted as lost, loudly.
            return Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_DELETE,
                    TopicConfig.RETENTION_MS_CONFIG, Long.toString(HEATMAP_LESSONS_RETENTION.toMillis()),
                    TopicConfig.SEGMENT_MS_CONFIG, Long.toString(HEATMAP_LESSONS_RETENTION.toMillis() / 6));
        }
        if (!topic.compacted()) {
            return Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, cleanupPolicy(topic));
        }
        return Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, cleanupPolicy(topic),
                TopicConfig.SEGMENT_BYTES_CONFIG, Integer.toString(COMPACTED_SEGMENT_BYTES),
                TopicConfig.MIN_CLEANABLE_DIRTY_RATIO_CONFIG, "0.1");
    }

    /** The cleanup policy the registry asks for. */
    public static String cleanupPolicy(Topic<?, ?> topic) {
        return topic.compacted() ? TopicConfig.CLEANUP_POLICY_COMPACT : TopicConfig.CLEANUP_POLICY_DELETE;
    }

    /** cleanup.policy of each named topic, as the broker reports it. */
    public Map<String, String> cleanupPolicies(Collection<String> names) {
        if (names.isEmpty()) {
            return Map.of();
        }
        List<ConfigResource> resources = names.stream()
                .map(name -> new ConfigResource(ConfigResource.Type.TOPIC, name)).toList();
        Map<ConfigResource, Config> configs = await(admin.describeConfigs(resources).all(), "describe configs");
        Map<String, String> policies = new HashMap<>();
        configs.forEach((resource, config) -> {
            var entry = config.get(TopicConfig.CLEANUP_POLICY_CONFIG);
            policies.put(resource.name(), entry == null ? "?" : entry.value());
        });
        return policies;
    }

    @Override
    public void close() {
        admin.close(Duration.ofSeconds(5));
    }

    private <T> T await(KafkaFuture<T> future, String what) {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new TopicAdminException(what + " failed: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new TopicAdminException(what + ": no answer within " + timeout.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TopicAdminException(what + ": interrupted", e);
        }
    }

    /**
     * Outcome of {@link #createAll}.
     *
     * @param created    topics this call created
     * @param existing   topics that were already there
     * @param mismatches existing topics whose cleanup policy differs from the registry's
     */
    public record Creation(List<String> created, List<String> existing, List<String> mismatches) {
    }

    /**
     * One topic as {@link #list} reports it.
     *
     * @param name              topic name
     * @param partitions        partition count
     * @param replicationFactor replicas of partition 0
     * @param cleanupPolicy     cleanup.policy
     */
    public record TopicInfo(String name, int partitions, int replicationFactor, String cleanupPolicy) {
    }

    /**
     * The application a Streams internal topic belongs to ({@code <application.id>-<store>-changelog} or
     * {@code -repartition}), found as the longest prefix that is a consumer group of the cluster; null for
     * other topics.
     */
    public static String applicationOf(String topic, Collection<String> groups) {
        if (!topic.endsWith("-changelog") && !topic.endsWith("-repartition")) {
            return null;
        }
        String best = null;
        for (String g : groups) {
            if (topic.startsWith(g + "-") && (best == null || g.length() > best.length())) {
                best = g;
            }
        }
        return best;
    }

    /** The cluster's consumer group ids (a Streams application's group is its application id). */
    public List<String> groups() {
        return await(admin.listGroups().all(), "list groups").stream()
                .map(org.apache.kafka.clients.admin.GroupListing::groupId).toList();
    }
}
