package io.expertcast.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Options;

class BoundedMemoryRocksDbConfigTest {
    // Sizes no other test uses, so the shared cache this test looks at is its own.
    private static final long TOTAL = 24L * 1024 * 1024;
    private static final long MEMTABLES = 3L * 1024 * 1024;

    @TempDir
    Path stateDir;

    @Test
    void everyAppGetsTheSetterAndItsBudgetFromTheBaseSettings() {
        Properties p = StreamsSettings.base("app", "127.0.0.1:1", stateDir, Map.of());
        assertEquals(BoundedMemoryRocksDbConfig.class, p.get(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG));
        assertEquals(new BoundedMemoryRocksDbConfig.Budget(128L << 20, 96L << 20),
                BoundedMemoryRocksDbConfig.Budget.of(toMap(p)));
        Properties sized = StreamsSettings.base("app", "127.0.0.1:1", stateDir,
                Map.of(StreamsSettings.ROCKSDB_MEMORY_BYTES, TOTAL, StreamsSettings.ROCKSDB_MEMTABLE_BYTES, MEMTABLES));
        assertEquals(new BoundedMemoryRocksDbConfig.Budget(TOTAL, MEMTABLES),
                BoundedMemoryRocksDbConfig.Budget.of(toMap(sized)));
        assertThrows(IllegalArgumentException.class, () -> BoundedMemoryRocksDbConfig.Budget.of(
                Map.of(StreamsSettings.ROCKSDB_MEMORY_BYTES, 10, StreamsSettings.ROCKSDB_MEMTABLE_BYTES, 11)));
    }

    @Test
    void storesOfOneBudgetShareOneCacheAndWriteBufferManager() {
        Map<String, Object> configs = Map.of(StreamsSettings.ROCKSDB_MEMORY_BYTES, TOTAL,
                StreamsSettings.ROCKSDB_MEMTABLE_BYTES, MEMTABLES);
        BoundedMemoryRocksDbConfig setter = new BoundedMemoryRocksDbConfig();
        try (Options a = new Options(); Options b = new Options()) {
            a.setTableFormatConfig(new BlockBasedTableConfig());
            b.setTableFormatConfig(new BlockBasedTableConfig());
            setter.setConfig("a", a, configs);
            setter.setConfig("b", b, configs);
            assertSame(a.writeBufferManager(), b.writeBufferManager());
            BlockBasedTableConfig table = (BlockBasedTableConfig) a.tableFormatConfig();
            assertTrue(table.cacheIndexAndFilterBlocks());
            assertEquals(2, a.maxWriteBufferNumber());
        }
    }

    /** A real RocksDB store opened by Streams reports the shared cache's capacity and charges it. */
    @Test
    void aStoreOpensWithTheBoundedCache() {
        StreamsBuilder builder = new StreamsBuilder();
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("bounded"),
                Serdes.String(), Serdes.String()));
        builder.stream("in", org.apache.kafka.streams.kstream.Consumed.with(Serdes.String(), Serdes.String()))
                .process(() -> new Processor<String, String, Void, Void>() {
                    private KeyValueStore<String, String> store;

                    @Override
                    public void init(ProcessorContext<Void, Void> context) {
                        store = context.getStateStore("bounded");
                    }

                    @Override
                    public void process(Record<String, String> record) {
                        store.put(record.key(), record.value());
                    }
                }, "bounded");
        Properties props = StreamsSettings.base("bounded-app", "127.0.0.1:1", stateDir,
                Map.of(StreamsSettings.ROCKSDB_MEMORY_BYTES, TOTAL, StreamsSettings.ROCKSDB_MEMTABLE_BYTES, MEMTABLES,
                        StreamsConfig.METRICS_RECORDING_LEVEL_CONFIG, "INFO"));
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(), props)) {
            var in = driver.createInputTopic("in", Serdes.String().serializer(), Serdes.String().serializer());
            String value = "x".repeat(1000);
            for (int i = 0; i < 2000; i++) {
                in.pipeInput("k" + i, value);
            }
            KeyValueStore<String, String> store = driver.getKeyValueStore("bounded");
            assertEquals(value, store.get("k1999"));
            assertEquals((double) TOTAL, metric(driver, "block-cache-capacity"), "the store uses the shared cache");
            long usage = BoundedMemoryRocksDbConfig.usageBytes(new BoundedMemoryRocksDbConfig.Budget(TOTAL, MEMTABLES));
            assertTrue(usage > 0 && usage <= TOTAL, "memtables are charged to the cache: " + usage);
        }
    }

    private static double metric(TopologyTestDriver driver, String name) {
        for (Map.Entry<org.apache.kafka.common.MetricName, ? extends Metric> e : driver.metrics().entrySet()) {
            if (e.getKey().name().equals(name) && "bounded".equals(e.getKey().tags().get("rocksdb-state-id"))) {
                return ((Number) e.getValue().metricValue()).doubleValue();
            }
        }
        throw new AssertionError("no metric " + name + " among " + driver.metrics().keySet());
    }

    private static Map<String, Object> toMap(Properties p) {
        Map<String, Object> m = new java.util.HashMap<>();
        p.forEach((k, v) -> m.put(k.toString(), v));
        return m;
    }
}
