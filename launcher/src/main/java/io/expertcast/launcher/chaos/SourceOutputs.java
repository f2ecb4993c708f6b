package io.expertcast.launcher.chaos;

import io.expertcast.allocator.AllocatorTopology;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The committed (read_committed) outputs of the stages, as the suite judges them: the plans and wafer
 * totals of every source (each plan by identity (pass, layer) and how many records carried them, so a
 * lost plan and a plan written twice both show), the requests each source got prefetch commands for,
 * the dead letters of moe.selections, and the per-tag state the stages keep (the predictor's popularity
 * snapshots on moe.heatmaps, the allocator's workload-profile changelog) with its evictions (tombstones).
 */
final class SourceOutputs implements AutoCloseable {
    private static final String POPULARITY = "/POPULARITY/";

    /** A dead letter of a moe.selections record, reduced to what the suite checks. */
    record Letter(String application, int partition, long offset, String reason, long keySize, long valueSize) {
    }

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final String profilesChangelog;
    private final Map<String, Set<String>> plans = new HashMap<>();
    private final Map<String, Long> planRecords = new HashMap<>();
    private final Map<String, WaferMetrics> wafer = new HashMap<>();
    private final Map<String, Set<String>> prefetched = new HashMap<>();
    private final List<Letter> letters = new ArrayList<>();
    private final Map<String, Boolean> popularity = new HashMap<>();
    private long popularityTombstones;
    private final Map<String, Boolean> profiles = new HashMap<>();
    private long profileTombstones;

    /** @param allocatorApplication the allocator's application id (its profile store's changelog is read) */
    SourceOutputs(String bootstrap, String allocatorApplication) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 4 * 1024 * 1024);
        consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        profilesChangelog = allocatorApplication + "-" + AllocatorTopology.WORKLOAD_PROFILES_STORE + "-changelog";
        List<TopicPartition> parts = new ArrayList<>();
        for (String t : List.of(Topics.ALLOCATIONS.name(), Topics.WAFER_METRICS.name(), Topics.PREFETCH.name(),
                Topics.DEAD_LETTER.name(), Topics.HEATMAPS.name(), profilesChangelog)) {
            consumer.partitionsFor(t, Duration.ofSeconds(60)).forEach(i -> parts.add(new TopicPartition(t, i.partition())));
        }
        consumer.assign(parts);
        consumer.seekToBeginning(parts);
    }

    void poll(Duration wait) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(wait)) {
            String key = r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8);
            if (r.topic().equals(Topics.ALLOCATIONS.name())) {
                AllocationPlan plan = Topics.ALLOCATIONS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                plans.computeIfAbsent(plan.getSource(), s -> new HashSet<>()).add(plan.getPassId() + "/" + plan.getLayer());
                planRecords.merge(plan.getSource(), 1L, Long::sum);
            } else if (r.topic().equals(Topics.WAFER_METRICS.name())) {
                wafer.put(key, Topics.WAFER_METRICS.valueSerde().deserializer().deserialize(r.topic(), r.value()));
            } else if (r.topic().equals(Topics.PREFETCH.name())) {
                int slash = key.indexOf('/'); // key: source/requestId
                if (slash > 0) {
                    prefetched.computeIfAbsent(key.substring(0, slash), s -> new HashSet<>()).add(key.substring(slash + 1));
                }
            } else if (r.topic().equals(Topics.DEAD_LETTER.name())) {
                DeadLetter d = Topics.DEAD_LETTER.valueSerde().deserializer().deserialize(r.topic(), r.value());
                if (Topics.SELECTIONS.name().equals(d.getSourceTopic())) {
                    letters.add(new Letter(d.getApplication(), d.getSourcePartition(), d.getSourceOffset(),
                            d.getReason(), d.getKeySize(), d.getValueSize()));
                }
            } else if (r.topic().equals(Topics.HEATMAPS.name())) {
                if (key.contains(POPULARITY)) {
                    popularity.put(key, r.value() != null);
                    if (r.value() == null) {
                        popularityTombstones++;
                    }
                }
            } else {
                profiles.put(key, r.value() != null);
                if (r.value() == null) {
                    profileTombstones++;
                }
            }
        }
    }

    /** Distinct (pass, layer) plans of {@code source}. */
    long plans(String source) {
        return plans.getOrDefault(source, Set.of()).size();
    }

    /** Plan records of {@code source} (more than {@link #plans} when one was written twice). */
    long planRecords(String source) {
        return planRecords.getOrDefault(source, 0L);
    }

    /** The latest totals of {@code model/source/policy}, or null. */
    WaferMetrics totals(String model, String source, String policy) {
        return wafer.get(model + "/" + source + "/" + policy);
    }

    /** Requests of {@code source} the predictor sent at least one prefetch command for. */
    Set<String> prefetchedRequests(String source) {
        return prefetched.getOrDefault(source, Set.of());
    }

    /** Dead letters of moe.selections records read so far, in order. */
    List<Letter> selectionLetters() {
        return letters;
    }

    /** The most popularity tags live (snapshot, no tombstone) on moe.heatmaps for one layer of {@code model}. */
    int maxLivePopularityTags(String model) {
        Map<String, Integer> perLayer = new HashMap<>();
        popularity.forEach((k, live) -> {
            if (live && k.startsWith(model + "/")) {
                perLayer.merge(k.substring(0, k.indexOf(POPULARITY)), 1, Integer::sum);
            }
        });
        return perLayer.values().stream().mapToInt(Integer::intValue).max().orElse(0);
    }

    /** Popularity tags evicted by the predictor so far (each eviction deletes its snapshot: one tombstone). */
    long popularityEvictions() {
        return popularityTombstones;
    }

    /** Workload profiles of {@code model} live in the allocator's store (its changelog, latest per key). */
    int liveProfiles(String model) {
        return (int) profiles.entrySet().stream().filter(e -> e.getValue() && e.getKey().startsWith(model + "/")).count();
    }

    /** Workload profiles the allocator deleted (evicted) so far: tombstones on its changelog. */
    long profileEvictions() {
        return profileTombstones;
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}
