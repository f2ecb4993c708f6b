package io.expertcast.predictor;

import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.query.Position;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.internals.CacheFlushListener;
import org.apache.kafka.streams.state.internals.CachedStateStore;

/**
 * A changelogged store the request side writes just before each commit, in its transaction: what its events
 * added to the batches since the last commit, one record per commit instead of one per event
 * ({@link PendingLessons}), so the committed offsets and the committed batches always match.
 *
 * <p>The hook is {@link CachedStateStore#flushCache()}, which Kafka Streams (4.x) calls on every store that is
 * one before a task commits, as it flushes its own record caches there; that interface is internal to Kafka
 * Streams, so an upgrade must keep {@code PredictorCrashExactTest} green (it fails if the hook is not called).
 */
final class PendingBatchesStore implements StateStore, CachedStateStore<Bytes, byte[]> {
    private final KeyValueStore<Bytes, byte[]> inner;
    /** What writes before the next commit (through {@link #put}). */
    private Runnable beforeCommit = () -> { };

    private PendingBatchesStore(KeyValueStore<Bytes, byte[]> inner) {
        this.inner = inner;
    }

    /** A logged RocksDB store, with the pre-commit write. */
    static StoreBuilder<PendingBatchesStore> builder(String name) {
        StoreBuilder<KeyValueStore<Bytes, byte[]>> inner = Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(name), Serdes.Bytes(), Serdes.ByteArray()).withLoggingEnabled(Map.of());
        return new StoreBuilder<>() {
            @Override
            public StoreBuilder<PendingBatchesStore> withCachingEnabled() {
                return this;
            }

            @Override
            public StoreBuilder<PendingBatchesStore> withCachingDisabled() {
                return this;
            }

            @Override
            public StoreBuilder<PendingBatchesStore> withLoggingEnabled(Map<String, String> config) {
                return this;
            }

            @Override
            public StoreBuilder<PendingBatchesStore> withLoggingDisabled() {
                throw new UnsupportedOperationException("the pending batches must be logged to survive a crash");
            }

            @Override
            public PendingBatchesStore build() {
                return new PendingBatchesStore(inner.build());
            }

            @Override
            public Map<String, String> logConfig() {
                return inner.logConfig();
            }

            @Override
            public boolean loggingEnabled() {
                return true;
            }

            @Override
            public String name() {
                return name;
            }
        };
    }

    /** The value of {@code key} as last committed (null: none). */
    byte[] get(long key) {
        return inner.get(key(key));
    }

    /** Writes a value; only from the {@link #beforeCommit} callback, which runs where a commit may write. */
    void put(long key, byte[] value) {
        inner.put(key(key), value);
    }

    /** What runs before every commit of the task, writing through {@link #put}. */
    void beforeCommit(Runnable callback) {
        this.beforeCommit = callback;
    }

    private static Bytes key(long key) {
        return Bytes.wrap(java.nio.ByteBuffer.allocate(8).putLong(key).array());
    }

    @Override
    public void flushCache() {
        beforeCommit.run();
    }

    @Override
    public void clearCache() {
    }

    @Override
    public boolean setFlushListener(CacheFlushListener<Bytes, byte[]> listener, boolean sendOldValues) {
        return false;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public void init(StateStoreContext context, StateStore root) {
        inner.init(context, root);
    }

    @Override
    @SuppressWarnings("deprecation")
    public void flush() {
        inner.flush();
    }

    @Override
    public void commit(Map<TopicPartition, Long> changelogOffsets) {
        inner.commit(changelogOffsets);
    }

    @Override
    public Long committedOffset(TopicPartition partition) {
        return inner.committedOffset(partition);
    }

    @Override
    public boolean managesOffsets() {
        return inner.managesOffsets();
    }

    @Override
    public void close() {
        inner.close();
    }

    @Override
    public boolean persistent() {
        return inner.persistent();
    }

    @Override
    public boolean isOpen() {
        return inner.isOpen();
    }

    @Override
    public Position getPosition() {
        return inner.getPosition();
    }
}
