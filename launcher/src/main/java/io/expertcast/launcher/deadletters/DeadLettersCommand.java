package io.expertcast.launcher.deadletters;

import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.connect.KafkaConnection;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code expertcast dead-letters}: the latest records the stages rejected, with their reasons. Read only. */
@Command(name = "dead-letters", mixinStandardHelpOptions = true,
        description = "Show the latest dead letters (records a stage rejected): when, which stage, the source topic, "
                + "partition and offset, and the reason; then a count per stage and reason. Reads moe.dead-letter "
                + "without a consumer group: nothing is committed or changed.")
public final class DeadLettersCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--limit", defaultValue = "20", description = "How many of the newest to show (default ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--application", description = "Only those of stages whose application id contains this "
            + "(e.g. predictor, allocator, emulator).")
    String application;

    @Option(names = "--scan", defaultValue = "10000",
            description = "With --application: newest records read per partition to find them (default ${DEFAULT-VALUE}).")
    int scan;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (limit < 1 || scan < 1) {
            spec.commandLine().getErr().println("dead-letters: --limit and --scan must be at least 1");
            return 2;
        }
        BrokerPreflight.require(kafka, List.of(Topics.DEAD_LETTER));
        DeadLetterReader.Result result = DeadLetterReader.latest(kafka.clientPropertiesWithBootstrap(), limit,
                application, application == null ? limit : scan, Duration.ofSeconds(15));
        if (result.latest().isEmpty()) {
            out.println("no dead letters" + (application == null ? "" : " of " + application) + " on "
                    + Topics.DEAD_LETTER.name() + " at " + kafka.bootstrap());
            return 0;
        }
        out.printf("latest %d of about %d dead letters on %s at %s (UTC times):%n", result.latest().size(),
                result.total(), Topics.DEAD_LETTER.name(), kafka.bootstrap());
        Map<String, Integer> byReason = new TreeMap<>();
        for (DeadLetterReader.Entry e : result.latest()) {
            DeadLetter d = e.letter();
            if (d == null) {
                out.printf("%s  [%d@%d] undecodable dead letter: %s%n", TIME.format(Instant.ofEpochMilli(e.timestampMs())),
                        e.partition(), e.offset(), e.error());
                continue;
            }
            out.printf("%s  %s  %s-%d@%d  %s%s%n", TIME.format(Instant.ofEpochMilli(d.getEventTimeMs())), d.getApplication(),
                    d.getSourceTopic(), d.getSourcePartition(), d.getSourceOffset(), oneLine(d.getReason()),
                    sizes(d));
            byReason.merge(d.getApplication() + ": " + kind(d.getReason()), 1, Integer::sum);
        }
        out.println("by stage and reason (of those shown):");
        byReason.forEach((reason, n) -> out.printf("%6d  %s%n", n, reason));
        return 0;
    }

    /** The original sizes (DeadLetter v2 keeps them when it cuts the bytes), else what the letter holds. */
    private static String sizes(DeadLetter d) {
        long key = d.getKeySize() >= 0 ? d.getKeySize() : d.getKey() == null ? -1 : d.getKey().remaining();
        long value = d.getValueSize() >= 0 ? d.getValueSize() : d.getValue() == null ? -1 : d.getValue().remaining();
        return " (key " + (key < 0 ? "null" : key + " B") + ", value " + (value < 0 ? "null" : value + " B") + ")";
    }

    private static String oneLine(String reason) {
        String line = reason.replaceAll("\\s+", " ").trim();
        return line.length() > 240 ? line.substring(0, 240) + "..." : line;
    }

    /** The reason without its record-specific tail (ids, numbers), so alike rejections count together. */
    static String kind(String reason) {
        String line = oneLine(reason);
        int colon = line.indexOf(": ");
        String head = colon > 0 && colon < 80 ? line.substring(0, colon) : line;
        return head.replaceAll("'[^']*'", "'...'").replaceAll("\\d+", "N");
    }
}
