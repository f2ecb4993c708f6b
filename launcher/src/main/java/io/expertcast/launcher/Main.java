package io.expertcast.launcher;

import picocli.CommandLine;

/** Entry point of {@code bin/expertcast} and of the Docker image. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        quietKafkaClientLogs();
        System.exit(ExpertcastCommand.commandLine().execute(args));
    }

    /**
     * Kafka clients log every config dump and (re)connect at INFO; on a terminal that buries the
     * command's own output. Only a default: {@code EXPERTCAST_JAVA_OPTS=-Dorg.slf4j.simpleLogger.log.org.apache.kafka=info}
     * brings them back. The transactional producer's Sender warns on every retried
     * CONCURRENT_TRANSACTIONS / OUT_OF_ORDER_SEQUENCE_NUMBER response, which exactly_once_v2 with a short
     * commit interval produces routinely and retries without loss; it is kept to errors. So is
     * NetworkClient, which warns about every Streams-internal repartition topic in the seconds before
     * Streams creates it; an unreachable broker is reported by our own commands (BrokerPreflight).
     * StreamsConfig warns that the global thread's processing handler is off each time a
     * StreamsBuilder makes its default config, though the apps' own config enables it.
     * OffsetFetcherUtils warns when a global store's consumer drops the partitions it just restored
     * from (the global thread re-assigns them itself): routine, no data is lost.
     */
    static void quietKafkaClientLogs() {
        quiet("org.apache.kafka", "warn");
        quiet("kafka", "warn");
        quiet("org.apache.kafka.clients.producer.internals.Sender", "error");
        quiet("org.apache.kafka.clients.NetworkClient", "error");
        quiet("org.apache.kafka.streams.StreamsConfig", "error");
        quiet("org.apache.kafka.clients.consumer.internals.OffsetFetcherUtils", "error");
    }

    private static void quiet(String logger, String level) {
        String key = "org.slf4j.simpleLogger.log." + logger;
        if (System.getProperty(key) == null) {
            System.setProperty(key, level);
        }
    }
}
