package io.expertcast.streams;

import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.streams.StreamsConfig;

/** The one base configuration every expertcast Kafka Streams application starts from. */
public final class StreamsSettings {

    /** Total off-heap memory all RocksDB stores of one instance may use (block cache + memtables). */
    public static final String ROCKSDB_MEMORY_BYTES = "expertcast.rocksdb.memory.bytes";
    /** How much of {@link #ROCKSDB_MEMORY_BYTES} memtables may take (default: three quarters of it). */
    public static final String ROCKSDB_MEMTABLE_BYTES = "expertcast.rocksdb.memtable.bytes";

    /** Segment size of the internal topics the applications create (changelogs, repartition topics). */
    public static final int CHANGELOG_SEGMENT_BYTES = 16 * 1024 * 1024;

    private StreamsSettings() {
    }

    /**
     * Base settings: exactly_once_v2, bounded RocksDB memory, undecodable records to the dead-letter
     * topic, loopback defaults. {@code overrides} win over every default.
     */
    public static Properties base(String applicationId, String bootstrapServers, Path stateDir,
                                  Map<String, ?> overrides) {
        quietPerRecordLogs();
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedMemoryRocksDbConfig.class);
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterDeserializationHandler.class);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        // The (default) processing exception handler for global stores too (the predictor has one); it also
        // silences Kafka 4.3's start-up warning that it is off.
        p.put("processing.exception.handler.global.enabled", true);
        p.put(ROCKSDB_MEMORY_BYTES, BoundedMemoryRocksDbConfig.DEFAULT_TOTAL_BYTES);
        // -1: the broker's default replication factor (1 on the local broker, higher on a real cluster).
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, -1);
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        // Changelogs are compacted, but the broker compacts only closed segments (1 GB by default), so a
        // changelog rewritten at every pass grows by every write until then: small segments and a low dirty
        // ratio let the cleaner keep each at about its live size (docs/changelog-growth.md).
        p.put(StreamsConfig.topicPrefix(TopicConfig.SEGMENT_BYTES_CONFIG), CHANGELOG_SEGMENT_BYTES);
        p.put(StreamsConfig.topicPrefix(TopicConfig.MIN_CLEANABLE_DIRTY_RATIO_CONFIG), "0.1");
        p.putAll(overrides);
        return p;
    }

    /**
     * Kafka Streams logs a WARN with the whole stack trace (~2.5 KB) for every record the
     * deserialization handler resumes from: a flood of bad records would write megabytes. Our
     * handler's {@link RejectionLog} reports them instead, one line per kind per interval. Only a
     * default for slf4j-simple (the services' logger): a level set on the command line wins.
     */
    static void quietPerRecordLogs() {
        String key = "org.slf4j.simpleLogger.log.org.apache.kafka.streams.processor.internals.RecordDeserializer";
        if (System.getProperty(key) == null) {
            System.setProperty(key, "error");
        }
    }
}
