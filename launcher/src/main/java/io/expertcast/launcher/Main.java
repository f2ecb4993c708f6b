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
     * brings them back.
     */
    static void quietKafkaClientLogs() {
        for (String logger : new String[] {"org.apache.kafka", "kafka"}) {
            String key = "org.slf4j.simpleLogger.log." + logger;
            if (System.getProperty(key) == null) {
                System.setProperty(key, "warn");
            }
        }
    }
}
