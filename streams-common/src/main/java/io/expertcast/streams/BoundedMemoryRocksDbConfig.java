package io.expertcast.streams;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * Caps the off-heap memory of all RocksDB stores of this JVM: one LRU cache shared by every store,
 * with memtables charged to it through a WriteBufferManager (the pattern Kafka Streams documents).
 * The cap comes from {@link StreamsSettings#ROCKSDB_MEMORY_BYTES}, read by the first store opened.
 */
public class BoundedMemoryRocksDbConfig implements RocksDBConfigSetter {

    private static Cache cache;
    private static WriteBufferManager writeBufferManager;

    private static synchronized void init(long totalBytes) {
        if (cache == null) {
            // A quarter of the cap for memtables; index and filter blocks count against the cache too.
            cache = new LRUCache(totalBytes, -1, false, 0.1);
            writeBufferManager = new WriteBufferManager(totalBytes / 4, cache);
        }
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        Object configured = configs.get(StreamsSettings.ROCKSDB_MEMORY_BYTES);
        long total = configured == null ? 64L * 1024 * 1024 : Long.parseLong(configured.toString());
        init(total);
        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(cache);
        table.setCacheIndexAndFilterBlocks(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setWriteBufferManager(writeBufferManager);
        options.setMaxWriteBufferNumber(2);
        options.setTableFormatConfig(table);
    }

    @Override
    public void close(String storeName, Options options) {
        // The cache and write buffer manager are shared by all stores: never closed per store.
    }
}
