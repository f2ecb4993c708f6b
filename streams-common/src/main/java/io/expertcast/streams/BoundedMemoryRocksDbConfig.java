package io.expertcast.streams;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * Caps the off-heap memory of the RocksDB stores of this JVM (the pattern the Kafka Streams memory
 * management guide documents): one LRU block cache shared by every store, memtables charged to that
 * same cache through a {@link WriteBufferManager}, and index and filter blocks cached there too
 * instead of pinned outside it. Stores configured with the same sizes share one cache, so an
 * instance's total is {@link StreamsSettings#ROCKSDB_MEMORY_BYTES} however many stores and tasks it
 * holds; {@link StreamsSettings#ROCKSDB_MEMTABLE_BYTES} (default three quarters) of it may be memtables.
 */
public class BoundedMemoryRocksDbConfig implements RocksDBConfigSetter {

    /** Default total when the setting is absent: 128 MiB. */
    public static final long DEFAULT_TOTAL_BYTES = 128L * 1024 * 1024;

    /**
     * Default memtables' share of the total: three quarters. The predictor's per-request state and decode
     * steps live only while their request runs (written, then deleted at its last step): with memtables
     * that hold that live set they die in memory and are never flushed or compacted. With a quarter of
     * 64 MiB, RocksDB's flush and compaction threads took 5-9 s of CPU in a 40-50 s `bench predictor`
     * run; with three quarters of 128 MiB (or of 256 MiB), 0.4-0.7 s.
     */
    public static final double DEFAULT_MEMTABLE_SHARE = 0.75;

    /** The cache and write buffer manager of one (total, memtable) budget; never closed while the JVM runs. */
    private record SharedMemory(Cache cache, WriteBufferManager writeBuffers) {
    }

    private static final Map<Budget, SharedMemory> SHARED = new ConcurrentHashMap<>();

    /** A memory budget: the cache's capacity and the memtables' share of it. */
    public record Budget(long totalBytes, long memtableBytes) {
        public Budget {
            if (totalBytes <= 0) {
                throw new IllegalArgumentException(StreamsSettings.ROCKSDB_MEMORY_BYTES + " must be positive, got "
                        + totalBytes);
            }
            if (memtableBytes <= 0 || memtableBytes > totalBytes) {
                throw new IllegalArgumentException(StreamsSettings.ROCKSDB_MEMTABLE_BYTES + " must be in 1.."
                        + totalBytes + ", got " + memtableBytes);
            }
        }

        /** The budget the Streams configuration names (absent values: the defaults). */
        public static Budget of(Map<String, ?> configs) {
            Object total = configs.get(StreamsSettings.ROCKSDB_MEMORY_BYTES);
            long totalBytes = total == null ? DEFAULT_TOTAL_BYTES : Long.parseLong(total.toString().trim());
            Object memtables = configs.get(StreamsSettings.ROCKSDB_MEMTABLE_BYTES);
            long memtableBytes = memtables == null ? (long) (totalBytes * DEFAULT_MEMTABLE_SHARE)
                    : Long.parseLong(memtables.toString().trim());
            return new Budget(totalBytes, memtableBytes);
        }
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        SharedMemory shared = SHARED.computeIfAbsent(Budget.of(configs), budget -> {
            // High-priority pool (10 %) keeps index and filter blocks from being evicted by data blocks.
            Cache cache = new LRUCache(budget.totalBytes(), -1, false, 0.1);
            return new SharedMemory(cache, new WriteBufferManager(budget.memtableBytes(), cache));
        });
        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(shared.cache());
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setWriteBufferManager(shared.writeBuffers());
        options.setMaxWriteBufferNumber(2);
        options.setTableFormatConfig(table);
    }

    /**
     * Bytes in use in the shared cache of {@code budget} (data, index and filter blocks plus the
     * memtables charged to it), or -1 when no store was configured with that budget. Metrics
     * observe: this never changes the stores.
     */
    public static long usageBytes(Budget budget) {
        SharedMemory shared = SHARED.get(budget);
        return shared == null ? -1 : shared.cache().getUsage();
    }

    @Override
    public void close(String storeName, Options options) {
        // The cache and write buffer manager are shared by all stores: never closed per store.
    }
}
