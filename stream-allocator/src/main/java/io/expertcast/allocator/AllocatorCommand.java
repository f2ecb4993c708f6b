package io.expertcast.allocator;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.streams.StreamsService;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.streams.KafkaStreams;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code expertcast allocator}: runs the allocator stage until Ctrl-C (or until it fails). */
@Command(name = "allocator", mixinStandardHelpOptions = true,
        description = "Plans every forward pass with Algorithm 1 (Insight 3): moe.selections + moe.passes -> "
                + "moe.allocations, moe.allocator-metrics, moe.placement.")
public class AllocatorCommand implements Callable<Integer> {

    @Option(names = "--bootstrap", defaultValue = "127.0.0.1:9092", description = "Kafka bootstrap servers (default: ${DEFAULT-VALUE})")
    String bootstrap;

    @Option(names = "--state-dir", defaultValue = "./work/state", description = "Kafka Streams state directory (default: ${DEFAULT-VALUE})")
    Path stateDir;

    @Option(names = "--mesh", defaultValue = AllocatorSettings.DEFAULT_MESH,
            description = "Hardware preset (dojo-5x5, tsmc-sow-8x3, dojo-enhanced) or properties file (default: ${DEFAULT-VALUE})")
    String mesh;

    @Option(names = "--application-id", defaultValue = AllocatorSettings.DEFAULT_APPLICATION_ID,
            description = "Kafka Streams application id (default: ${DEFAULT-VALUE})")
    String applicationId;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        HardwareConfig hardware;
        try {
            hardware = HardwareConfig.load(mesh);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            spec.commandLine().getErr().println("allocator: " + e.getMessage());
            return 2;
        }
        AllocatorSettings settings = new AllocatorSettings(ModelCatalog.standard(), hardware, applicationId);
        KafkaStreams streams = AllocatorApp.start(bootstrap, stateDir, settings, Map.of());
        spec.commandLine().getOut().println("allocator running on " + bootstrap + " for " + hardware.name()
                + " (Ctrl-C stops it)");
        return StreamsService.runUntilStopped(streams, "allocator");
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new AllocatorCommand()).execute(args));
    }
}
