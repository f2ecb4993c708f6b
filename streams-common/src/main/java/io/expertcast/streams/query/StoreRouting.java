package io.expertcast.streams.query;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsMetadata;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Kafka Streams interactive queries of key-value stores, routed to the instance that owns the key
 * ({@code application.server} + {@link KafkaStreams#queryMetadataForKey}). Everything that means
 * "the state is moving" (not yet running, rebalancing, a store migrating) is a 503 the caller may
 * retry; a store the topology does not have is a 404.
 */
public final class StoreRouting {
    private final Supplier<KafkaStreams> streams;
    private final HostInfo self;

    /**
     * @param streams the application, or null while it is not built yet (queries are then 503)
     * @param self    this instance's {@code application.server}
     */
    public StoreRouting(Supplier<KafkaStreams> streams, HostInfo self) {
        this.streams = streams;
        this.self = self;
    }

    public HostInfo self() {
        return self;
    }

    /** Where a key lives: here (with its value, or none) or on another instance. */
    public sealed interface Located<V> {
        /** This instance owns the key; {@code value} is empty when the store has no entry for it. */
        record Here<V>(Optional<V> value) implements Located<V> {
        }

        /** Another instance owns the key: forward the query there. */
        record Elsewhere<V>(HostInfo owner) implements Located<V> {
        }
    }

    /** Outcome of {@link #search}: found here (with its partition), answered by another instance, or nowhere. */
    public sealed interface Search<V> {
        /** This instance holds the key, in {@code partition} of the store. */
        record Here<V>(V value, int partition) implements Search<V> {
        }

        /** Another instance holds it: its answer to the forwarded request. */
        record There<V>(QueryReply reply) implements Search<V> {
        }

        /** No instance holds the key in any partition. */
        record Nowhere<V>() implements Search<V> {
        }
    }

    /**
     * Finds {@code key} whatever partitioner its producer used. Kafka Streams locates a key with
     * Java's default partitioner (murmur2); a store fed straight from a topic holds the key where the
     * producer put it, and librdkafka's default (consistent_random: CRC32 of the key) puts 5 keys in 6
     * elsewhere. So: the murmur2 partition first (here, or on its owner, which searches all its
     * partitions), then this instance's other partitions, then every other instance holding the store.
     * A request forwarded here searches this instance's partitions only.
     */
    public <K, V> Search<V> search(String store, K key, Serializer<K> keySerializer, QueryRequest request,
                                   QueryServer server) {
        KafkaStreams app = running();
        KeyQueryMetadata metadata = metadataFor(app, store, key, keySerializer);
        if (request.forwarded()) {
            Search.Here<V> local = searchLocal(app, store, key, metadata.partition());
            return local == null ? new Search.Nowhere<>() : local;
        }
        HostInfo owner = metadata.activeHost();
        if (!owner.equals(self)) {
            QueryReply reply = server.forward(owner, request);
            if (reply.status() != 404) {
                return new Search.There<>(reply);
            }
        }
        Search.Here<V> local = searchLocal(app, store, key, metadata.partition());
        if (local != null) {
            return local;
        }
        for (HostInfo host : hostsOf(store)) {
            if (host.equals(self) || host.equals(owner)) {
                continue;
            }
            QueryReply reply = server.get(host, request.pathAndQuery());
            if (reply.status() != 404) {
                return new Search.There<>(reply);
            }
        }
        return new Search.Nowhere<>();
    }

    /** {@code key} in this instance's active partitions of {@code store}, {@code first} first; null if absent. */
    private <K, V> Search.Here<V> searchLocal(KafkaStreams app, String store, K key, int first) {
        java.util.TreeSet<Integer> partitions = new java.util.TreeSet<>();
        for (StreamsMetadata m : app.streamsMetadataForStore(store)) {
            if (m.hostInfo().equals(self)) {
                m.topicPartitions().forEach(tp -> partitions.add(tp.partition()));
            }
        }
        List<Integer> order = new ArrayList<>();
        if (partitions.remove(first)) {
            order.add(first);
        }
        order.addAll(partitions);
        for (int p : order) {
            try {
                ReadOnlyKeyValueStore<K, V> local = app.store(StoreQueryParameters
                        .fromNameAndType(store, QueryableStoreTypes.<K, V>keyValueStore()).withPartition(p));
                V value = local.get(key);
                if (value != null) {
                    return new Search.Here<>(value, p);
                }
            } catch (org.apache.kafka.streams.errors.InvalidStateStorePartitionException notThisStores) {
                // a partition of another source of the sub-topology that this store does not have
            } catch (InvalidStateStoreException e) {
                throw QueryException.unavailable("store " + store + " partition " + p
                        + " is not queryable here right now (" + e.getMessage() + ")");
            }
        }
        return null;
    }

    /** Applies {@code read} to this instance's {@code partition} of {@code store} (after {@link #search} found a key there). */
    public <SK, SV, T> T readPartition(String store, int partition, Function<ReadOnlyKeyValueStore<SK, SV>, T> read) {
        KafkaStreams app = running();
        try {
            return read.apply(app.store(StoreQueryParameters
                    .fromNameAndType(store, QueryableStoreTypes.<SK, SV>keyValueStore())
                    .withPartition(partition)));
        } catch (InvalidStateStoreException e) {
            throw QueryException.unavailable("store " + store + " partition " + partition
                    + " is not queryable here right now (" + e.getMessage() + ")");
        }
    }

    /** Finds the owner of {@code key} in {@code store}; reads it when this instance is the owner. */
    public <K, V> Located<V> locate(String store, K key, Serializer<K> keySerializer) {
        KafkaStreams app = running();
        KeyQueryMetadata metadata = metadataFor(app, store, key, keySerializer);
        if (!metadata.activeHost().equals(self)) {
            return new Located.Elsewhere<>(metadata.activeHost());
        }
        try {
            ReadOnlyKeyValueStore<K, V> local = app.store(StoreQueryParameters
                    .fromNameAndType(store, QueryableStoreTypes.<K, V>keyValueStore())
                    .withPartition(metadata.partition()));
            return new Located.Here<>(Optional.ofNullable(local.get(key)));
        } catch (InvalidStateStoreException e) {
            throw QueryException.unavailable("store " + store + " partition " + metadata.partition()
                    + " is not queryable here right now (" + e.getMessage() + ")");
        }
    }

    /**
     * The instance that owns {@code key}'s partition of {@code store}, for a store whose entries are
     * keyed differently from the partitioning key (say, partitioned by model, keyed model/predictor/tag).
     */
    public <K> HostInfo ownerOf(String store, K key, Serializer<K> keySerializer) {
        KafkaStreams app = running();
        return metadataFor(app, store, key, keySerializer).activeHost();
    }

    /**
     * Applies {@code read} to this instance's partition of {@code store} that {@code key} is partitioned to
     * (for a store whose keys extend the partitioning key, read after {@link #locate} answered Here).
     */
    public <K, SK, SV, T> T readPartition(String store, K key, Serializer<K> keySerializer,
                                           Function<ReadOnlyKeyValueStore<SK, SV>, T> read) {
        KafkaStreams app = running();
        KeyQueryMetadata metadata = metadataFor(app, store, key, keySerializer);
        try {
            return read.apply(app.store(StoreQueryParameters
                    .fromNameAndType(store, QueryableStoreTypes.<SK, SV>keyValueStore())
                    .withPartition(metadata.partition())));
        } catch (InvalidStateStoreException e) {
            throw QueryException.unavailable("store " + store + " partition " + metadata.partition()
                    + " is not queryable here right now (" + e.getMessage() + ")");
        }
    }

    /**
     * Reads {@code key} from a global store: every instance holds all of it, so the answer is local.
     */
    public <K, V> Optional<V> global(String store, K key) {
        KafkaStreams app = running();
        try {
            ReadOnlyKeyValueStore<K, V> local = app.store(StoreQueryParameters
                    .fromNameAndType(store, QueryableStoreTypes.<K, V>keyValueStore()));
            return Optional.ofNullable(local.get(key));
        } catch (org.apache.kafka.streams.errors.UnknownStateStoreException e) {
            throw QueryException.notFound("state store " + store + " is not part of this application's topology");
        } catch (InvalidStateStoreException e) {
            throw QueryException.unavailable("store " + store + " is not queryable here right now (" + e.getMessage() + ")");
        }
    }

    /** Every entry of the active partitions of {@code store} held by this instance. */
    public <K, V> List<KeyValue<K, V>> localEntries(String store) {
        KafkaStreams app = running();
        try {
            ReadOnlyKeyValueStore<K, V> local = app.store(StoreQueryParameters
                    .fromNameAndType(store, QueryableStoreTypes.<K, V>keyValueStore()));
            List<KeyValue<K, V>> entries = new ArrayList<>();
            try (KeyValueIterator<K, V> all = local.all()) {
                all.forEachRemaining(entries::add);
            }
            return entries;
        } catch (org.apache.kafka.streams.errors.UnknownStateStoreException e) {
            throw QueryException.notFound("state store " + store + " is not part of this application's topology");
        } catch (InvalidStateStoreException e) {
            throw QueryException.unavailable("store " + store + " is not queryable here right now (" + e.getMessage() + ")");
        }
    }

    /** The instances (this one included) that hold active partitions of {@code store}. */
    public List<HostInfo> hostsOf(String store) {
        KafkaStreams app = running();
        Collection<StreamsMetadata> all = app.streamsMetadataForStore(store);
        List<HostInfo> hosts = new ArrayList<>();
        for (StreamsMetadata m : all) {
            if (m.stateStoreNames().contains(store) && !hosts.contains(m.hostInfo())) {
                hosts.add(m.hostInfo());
            }
        }
        return hosts;
    }

    /** The key's partition and active host in {@code store}; 404 for no such store, 503 while unknown. */
    private static <K> KeyQueryMetadata metadataFor(KafkaStreams app, String store, K key, Serializer<K> keySerializer) {
        KeyQueryMetadata metadata;
        try {
            metadata = app.queryMetadataForKey(store, key, keySerializer);
        } catch (IllegalStateException e) {
            throw QueryException.unavailable("the application is not running: " + e.getMessage());
        }
        if (metadata == null) {
            throw QueryException.notFound("state store " + store + " is not part of this application's topology");
        }
        if (metadata.equals(KeyQueryMetadata.NOT_AVAILABLE) || metadata.activeHost() == null
                || metadata.activeHost().equals(HostInfo.unavailable())) {
            throw QueryException.unavailable("the owner of this key in " + store + " is not known yet (rebalancing)");
        }
        return metadata;
    }

    /** The application if it is RUNNING; otherwise 503 (starting, rebalancing, stopping). */
    private KafkaStreams running() {
        KafkaStreams app = streams.get();
        if (app == null) {
            throw QueryException.unavailable("the application is starting");
        }
        KafkaStreams.State state = app.state();
        if (state != KafkaStreams.State.RUNNING) {
            throw QueryException.unavailable("the application is " + state + "; retry when it is RUNNING");
        }
        return app;
    }
}
