package io.expertcast.launcher.topics;

import io.expertcast.schemas.Topics;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.connect.KafkaConnection;
import io.expertcast.streams.connect.PreflightException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import io.expertcast.local.TopicAdmin;
import io.expertcast.local.TopicAdminException;

/** {@code expertcast topics create|list}: the pipeline's topics ({@link Topics#ALL}) on a cluster. */
@Command(name = "topics", mixinStandardHelpOptions = true,
        description = "Create or list the pipeline's topics.",
        subcommands = {TopicsCommand.Create.class, TopicsCommand.ListTopics.class})
public final class TopicsCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
    }

    /** Options of both subcommands. */
    static final class Connection {
        @Mixin
        KafkaConnection kafka = new KafkaConnection();

        @Option(names = "--timeout", defaultValue = "30",
                description = "Seconds to wait for the cluster to answer each call. Default: ${DEFAULT-VALUE}.")
        int timeoutSeconds;

        String bootstrap() {
            return kafka.bootstrap();
        }

        TopicAdmin open() {
            if (timeoutSeconds < 1) {
                throw new IllegalArgumentException("--timeout must be at least 1 second, got " + timeoutSeconds);
            }
            String bootstrap = kafka.bootstrap();
            boolean reachable;
            try {
                reachable = BrokerPreflight.awaitReachable(bootstrap, kafka.brokerWait());
            } catch (PreflightException notHostPort) { // a bad address given: usage, reported as the others
                throw new IllegalArgumentException(notHostPort.getMessage(), notHostPort);
            }
            if (!reachable) {
                throw new TopicAdminException("no broker at " + bootstrap + " (" + kafka.bootstrapOrigin()
                        + "): nothing accepted a connection within " + kafka.brokerWait().toSeconds() + " s", null);
            }
            return new TopicAdmin(bootstrap, kafka.clientProperties(), Duration.ofSeconds(timeoutSeconds));
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create every pipeline topic that does not exist (compacted where the registry says so). "
                    + "Existing topics are left as they are.")
    static final class Create implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        Connection connection;
        @Spec
        CommandSpec spec;

        @Option(names = "--partitions", defaultValue = "4", description = "Partitions per topic. Default: ${DEFAULT-VALUE}.")
        int partitions;

        @Option(names = "--replication-factor", defaultValue = "0",
                description = "Replicas per partition (3 or more: min.insync.replicas=2). Default: min(3, the "
                        + "cluster's brokers).")
        short replicationFactor;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            if (partitions < 1 || replicationFactor < 0) {
                err.printf("topics create: --partitions and --replication-factor must be at least 1, got %d and %d%n",
                        partitions, replicationFactor);
                return 2;
            }
            try (TopicAdmin admin = connection.open()) {
                short replicas = replicationFactor > 0 ? replicationFactor : admin.defaultReplicationFactor();
                TopicAdmin.Creation creation = admin.createAll(Topics.ALL, partitions, replicas);
                for (var topic : Topics.ALL) {
                    String state = creation.created().contains(topic.name()) ? "created" : "existing";
                    out.printf("%-8s  %-26s  %s%n", state, topic.name(), TopicAdmin.cleanupPolicy(topic));
                }
                out.printf("topics on %s: %d created, %d existing (new ones: replication factor %d, min.insync.replicas %d)%n",
                        connection.bootstrap(), creation.created().size(), creation.existing().size(), replicas,
                        TopicAdmin.minInSync(replicas));
                creation.mismatches().forEach(m -> err.println("warning: " + m));
                return 0;
            } catch (TopicAdminException | IllegalArgumentException e) {
                err.println("topics create: " + e.getMessage()
                        + (e instanceof TopicAdminException ? hint(connection.bootstrap()) : ""));
                return 1;
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List the cluster's topics: name, partitions, replication factor, cleanup policy and bytes on "
                    + "disk; then the bytes of the pipeline's topics and of each Streams application's internal "
                    + "topics (changelogs, repartition topics).")
    static final class ListTopics implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        Connection connection;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (TopicAdmin admin = connection.open()) {
                List<TopicAdmin.TopicInfo> topics = admin.list();
                Map<String, Long> sizes = admin.sizes();
                List<String> groups = admin.groups();
                out.printf("%-60s  %10s  %11s  %-14s  %10s%n", "topic", "partitions", "replication", "cleanup.policy",
                        "MB on disk");
                Map<String, Long> byApplication = new TreeMap<>();
                long total = 0;
                for (TopicAdmin.TopicInfo t : topics) {
                    long bytes = sizes.getOrDefault(t.name(), 0L);
                    total += bytes;
                    out.printf(Locale.ROOT, "%-60s  %10d  %11d  %-14s  %10.1f%n", t.name(), t.partitions(),
                            t.replicationFactor(), t.cleanupPolicy(), bytes / 1e6);
                    String application = TopicAdmin.applicationOf(t.name(), groups);
                    byApplication.merge(application == null ? "pipeline topics" : application + " (internal)", bytes,
                            Long::sum);
                }
                out.printf(Locale.ROOT, "on disk: %.1f MB in all%n", total / 1e6);
                byApplication.forEach((app, bytes) -> out.printf(Locale.ROOT, "  %-58s  %10.1f MB%n", app, bytes / 1e6));
                return 0;
            } catch (TopicAdminException | IllegalArgumentException e) {
                spec.commandLine().getErr().println("topics list: " + e.getMessage()
                        + (e instanceof TopicAdminException ? hint(connection.bootstrap()) : ""));
                return 1;
            }
        }
    }

    private static String hint(String bootstrap) {
        return bootstrap.startsWith("127.0.0.1:") || bootstrap.startsWith("localhost:")
                ? "; start one with `bin/expertcast broker start` or give --bootstrap HOST:PORT" : "";
    }
}
