package io.expertcast.offline;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.core.placement.HbmCapacity;
import io.expertcast.core.placement.LayerPlacement;
import io.expertcast.core.placement.LogicalCountFile;
import io.expertcast.core.placement.PlacementMove;
import io.expertcast.core.placement.PlacementPolicies;
import io.expertcast.core.placement.PlacementPolicy;
import io.expertcast.core.placement.PlacementRequest;
import io.expertcast.core.placement.Rebalance;
import io.expertcast.schemas.PlacementAction;
import io.expertcast.schemas.PlacementCommand;
import io.expertcast.schemas.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import io.expertcast.streams.connect.BrokerPreflight;
import io.expertcast.streams.connect.KafkaConnection;
import io.expertcast.streams.connect.PreflightException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import io.expertcast.allocator.AllocatorTopology;

/**
 * {@code expertcast rebalance}: Insight 6's bounded re-placement on a wafer. From the even, EP-like
 * table of the mesh, moves every MoE layer toward a policy's placement of a load profile (a
 * logical_count file, e.g. one workload's statistics) with at most M moved experts per layer, and
 * prints for each budget the moves, the bytes they carry and the max/mean die load after them (load
 * split evenly over an expert's copies). {@code --publish} sends the moves of the last budget as
 * PlacementCommands to moe.placement-commands, where a running allocator validates and applies them.
 */
@Command(name = "rebalance", mixinStandardHelpOptions = true,
        description = "Bounded re-placement (Insight 6): moves toward a policy's placement of a load file, per move budget.")
public final class RebalanceCommand implements Callable<Integer> {

    @Option(names = "--load", required = true, description = "logical_count JSON of the model (one row per transformer layer).")
    Path load;

    @Option(names = "--model", defaultValue = "deepseek-v3", description = "Catalog model the file is for (default ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--mesh", defaultValue = "dojo-5x5", description = "Hardware preset or file (default ${DEFAULT-VALUE}).")
    String mesh;

    @Option(names = "--policy", defaultValue = "hot-replicate", description = "Target placement policy (default ${DEFAULT-VALUE}).")
    String policy;

    @Option(names = "--max-moves", split = ",", defaultValue = "0,4,16,64",
            description = "Moved experts allowed per layer; a list prints one line each (default ${DEFAULT-VALUE}).")
    List<Integer> budgets;

    @Option(names = "--publish", paramLabel = "BOOTSTRAP", arity = "0..1", fallbackValue = "",
            description = "Send the last budget's moves to moe.placement-commands, on this broker if one is named "
                    + "(else the one --bootstrap and its defaults find).")
    String publish;

    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Override
    public Integer call() {
        ModelShape shape;
        HardwareConfig hw;
        long[][] counts;
        try {
            shape = ModelCatalog.standard().lookup(model)
                    .orElseThrow(() -> new IllegalArgumentException("unknown model '" + model + "'"));
            hw = HardwareConfig.load(mesh);
            counts = LogicalCountFile.read(load);
            checkShape(counts, shape, load);
            PlacementPolicies.byName(policy);
            if (budgets.stream().anyMatch(b -> b < 0)) {
                throw new IllegalArgumentException("--max-moves must be >= 0");
            }
        } catch (IOException | IllegalArgumentException | UncheckedIOException e) {
            System.err.println("rebalance: " + e.getMessage());
            return 2;
        }
        int slots = HbmCapacity.slotsPerDiePerLayer(hw, shape);
        // The target fills one slot less than the HBM share, so swaps between dies have room.
        int redundant = (slots - 1) * hw.dies() - shape.numExperts();
        if (redundant < 0) {
            System.err.printf(Locale.ROOT, "rebalance: placement beyond HBM capacity: %s on %s needs %d copies per layer "
                            + "per die (one a spare for swaps), its %.1f GB usable HBM per die hold %d (%.1f MB x %d MoE layers each)%n",
                    shape.id(), hw.name(), -Math.floorDiv(-shape.numExperts(), hw.dies()) + 1, hw.usableHbmBytes() / 1e9,
                    slots, shape.expertBytes() / 1e6, shape.numMoeLayers());
            return 2;
        }
        System.out.printf(Locale.ROOT, "%s on %s: %d copies per layer per die fit HBM; target %s with %d redundant experts%n",
                shape.id(), hw.name(), slots, policy, redundant);
        System.out.println("max moves/layer  moved experts  moved GB   max/mean die load");
        List<PlacementMove> last = List.of();
        for (int budget : budgets) {
            ExpertDistributionTable table = ExpertDistributionTable.even(shape, hw.dies());
            List<PlacementMove> moves = rebalance(table, shape, hw, counts, policy, redundant, slots, budget);
            long bytes = moves.stream().mapToLong(PlacementMove::bytes).sum();
            System.out.printf(Locale.ROOT, "%15d  %13d  %8.1f   %.3f%n", budget, Rebalance.movedExperts(moves),
                    bytes / 1e9, meanMaxOverMean(table, shape, counts));
            last = moves;
        }
        if (publish != null) {
            KafkaConnection target = publish.isBlank() ? kafka : kafka.withBootstrap(publish);
            try {
                BrokerPreflight.require(target, List.of(Topics.PLACEMENT_COMMANDS));
            } catch (PreflightException e) {
                System.err.println("rebalance: " + e.getMessage());
                return 1;
            }
            send(last, shape, target);
            System.out.println("sent " + last.size() + " placement commands to " + Topics.PLACEMENT_COMMANDS.name()
                    + " on " + target.bootstrap());
        }
        return 0;
    }

    static void checkShape(long[][] counts, ModelShape shape, Path file) {
        if (counts.length != shape.numLayers() || counts[0].length != shape.numExperts()) {
            throw new IllegalArgumentException(file + ": logical_count is " + counts.length + " layers x "
                    + counts[0].length + " experts, " + shape.id() + " has " + shape.numLayers() + " x "
                    + shape.numExperts());
        }
    }

    static List<PlacementMove> rebalance(ExpertDistributionTable table, ModelShape shape, HardwareConfig hw,
                                         long[][] counts, String policyName, int redundant, int slots, int budget) {
        PlacementPolicy policy = PlacementPolicies.byName(policyName);
        Mesh meshOf = Mesh.of(hw);
        List<PlacementMove> moves = new ArrayList<>();
        for (int m = 0; m < shape.numMoeLayers(); m++) {
            double[] layerLoad = PlaceCommand.load(counts[shape.moeLayer(m)]);
            LayerPlacement target = policy.place(PlacementRequest.of(layerLoad, hw.dies(), redundant));
            moves.addAll(Rebalance.toward(table, m, target, layerLoad, budget, slots, shape.expertBytes(), meshOf));
        }
        HbmCapacity.check(table, shape, hw);
        return moves;
    }

    /** Mean over loaded MoE layers of max/mean die load, each expert's load split evenly over its copies. */
    static double meanMaxOverMean(ExpertDistributionTable table, ModelShape shape, long[][] counts) {
        double sum = 0;
        int layers = 0;
        for (int m = 0; m < shape.numMoeLayers(); m++) {
            long[] row = counts[shape.moeLayer(m)];
            double[] dieLoad = new double[table.dies()];
            double total = 0;
            for (int e = 0; e < shape.numExperts(); e++) {
                int[] holders = table.holders(m, e);
                for (int d : holders) {
                    dieLoad[d] += (double) row[e] / holders.length;
                }
                total += row[e];
            }
            if (total > 0) {
                sum += java.util.Arrays.stream(dieLoad).max().orElse(0) / (total / table.dies());
                layers++;
            }
        }
        return layers == 0 ? Double.NaN : sum / layers;
    }

    private void send(List<PlacementMove> moves, ModelShape shape, KafkaConnection target) {
        Map<String, Object> config = new java.util.HashMap<>(Map.of(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true));
        config.putAll(target.clientPropertiesWithBootstrap());
        try (var producer = new KafkaProducer<>(config, Topics.PLACEMENT_COMMANDS.keySerde().serializer(),
                Topics.PLACEMENT_COMMANDS.valueSerde().serializer())) {
            long now = System.currentTimeMillis();
            for (PlacementMove m : moves) {
                int from = m.action() == PlacementMove.Action.EVICT ? m.evictDie() : m.fromDie();
                PlacementCommand command = new PlacementCommand(shape.id(), m.layer(), m.expert(),
                        PlacementAction.valueOf(m.action().name()), from, m.toDie(), m.bytes(),
                        "rebalance toward " + policy + " of " + load.getFileName(), now);
                producer.send(new ProducerRecord<>(Topics.PLACEMENT_COMMANDS.name(),
                        AllocatorTopology.placementKey(shape.id(), m.layer(), m.expert()), command));
            }
            producer.flush();
        }
    }
}
