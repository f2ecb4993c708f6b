package io.expertcast.offline;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.core.placement.LayerPlacement;
import io.expertcast.core.placement.LogicalCountFile;
import io.expertcast.core.placement.PlacementPolicies;
import io.expertcast.core.placement.PlacementRequest;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import io.expertcast.schemas.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.kafka.common.KafkaException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;
import io.expertcast.streams.connect.KafkaConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code expertcast export-placement --format sglang}: the placement of a load file, or the live
 * distribution table on moe.placement ({@code --bootstrap}, see {@link #physicalToLogicalMap(ExpertDistributionTable,
 * ModelShape)}), as the JSON
 * SGLang's {@code --init-expert-location} accepts: {@code {"physical_to_logical_map": [[logical
 * expert per physical slot] per layer]}}, every layer of the file (SGLang's map covers the model's
 * layers; a layer without load, e.g. DeepSeek's dense 0-2, gets SGLang's trivial map, slot p ->
 * expert p mod E). SGLang passes the keys to {@code init_by_mapping} as arguments, so the file holds
 * that one key. Start SGLang with {@code --ep-num-redundant-experts R} and an EP size equal to
 * {@code --dies}.
 */
@Command(name = "export-placement", mixinStandardHelpOptions = true,
        description = "Write a placement as SGLang's --init-expert-location JSON (physical_to_logical_map).")
public final class ExportPlacementCommand implements Callable<Integer> {

    enum Format { sglang }

    @Option(names = "--format", defaultValue = "sglang", description = "Output format: sglang (default).")
    Format format;

    @Option(names = "--load", description = "logical_count JSON to place (or --bootstrap: read the live expert "
            + "distribution table from moe.placement on that broker, a placement learned online).")
    Path load;

    /** --bootstrap (or bootstrap.servers in --config/--property) reads the live table instead of placing --load. */
    @Mixin
    KafkaConnection kafka = new KafkaConnection();

    @Option(names = "--model", description = "With --bootstrap: the catalog model whose table to export.")
    String model;

    @Option(names = "--mesh", defaultValue = "dojo-5x5", description = "With --bootstrap: the wafer the table is for "
            + "(its dies are SGLang's EP size; default ${DEFAULT-VALUE}).")
    String mesh;

    @Option(names = "--policy", defaultValue = "eplb", description = "Placement policy (default ${DEFAULT-VALUE}); see place --help.")
    String policy;

    @Option(names = "--dies", description = "Dies (GPUs): SGLang's EP size (with --load).")
    Integer dies;

    @Option(names = "--replicas", defaultValue = "0", description = "Redundant experts: SGLang's --ep-num-redundant-experts (default ${DEFAULT-VALUE}).")
    int redundant;

    @Option(names = "--groups", defaultValue = "1", description = "Expert groups for EPLB (default ${DEFAULT-VALUE}).")
    int groups;

    @Option(names = "--nodes", defaultValue = "1", description = "Nodes for EPLB (default ${DEFAULT-VALUE}).")
    int nodes;

    @Option(names = "--out", description = "Output file (default: standard output).")
    Path out;

    @Override
    public Integer call() throws IOException {
        int[][] map;
        String source;
        String bootstrap = kafka.givenBootstrap().orElse(null);
        try {
            if ((load == null) == (bootstrap == null)) {
                throw new IllegalArgumentException("give either --load (place a load file) or --bootstrap (the live table)");
            }
            if (load != null) {
                if (dies == null) {
                    throw new IllegalArgumentException("--load needs --dies");
                }
                map = physicalToLogicalMap(LogicalCountFile.read(load), policy, dies, redundant, groups, nodes);
                source = policy + " on " + dies + " dies";
            } else {
                if (model == null) {
                    throw new IllegalArgumentException("--bootstrap needs --model");
                }
                ModelShape shape = ModelCatalog.standard().lookup(model).orElseThrow(() -> new IllegalArgumentException(
                        "unknown model '" + model + "', known: " + ModelCatalog.standard().all().keySet()));
                HardwareConfig hw = HardwareConfig.load(mesh);
                ExpertDistributionTable table = LivePlacement.read(bootstrap, kafka.clientProperties(), shape, hw.dies());
                map = physicalToLogicalMap(table, shape);
                source = Topics.PLACEMENT.name() + " on " + bootstrap + ", " + hw.dies() + " dies; start SGLang with "
                        + "--ep-num-redundant-experts " + (map[0].length - shape.numExperts());
            }
        } catch (IOException | IllegalArgumentException | UncheckedIOException | KafkaException e) {
            System.err.println("export-placement: " + e.getMessage());
            return 2;
        }
        ObjectMapper json = new ObjectMapper();
        Map<String, Object> doc = Map.of("physical_to_logical_map", map);
        if (out == null) {
            System.out.println(json.writeValueAsString(doc));
        } else {
            json.writeValue(out.toFile(), doc);
            System.out.println("export-placement: " + map.length + " layers x " + map[0].length + " physical experts ("
                    + source + ") -> " + out);
        }
        return 0;
    }

    /**
     * SGLang's map of a wafer's distribution table: per model layer, each die's slots in die order
     * holding the experts it has (home or replica) in id order. SGLang gives every GPU the same number
     * of slots, so every die gets as many as the fullest die at any layer (E + R slots in all, R =
     * --ep-num-redundant-experts) and a die with fewer repeats its own experts (a duplicate on one GPU,
     * never an expert the table does not put there). Dense layers get the trivial map.
     */
    static int[][] physicalToLogicalMap(ExpertDistributionTable table, ModelShape model) {
        int dies = table.dies();
        int experts = model.numExperts();
        int perDie = 0;
        for (int m = 0; m < model.numMoeLayers(); m++) {
            for (int d = 0; d < dies; d++) {
                int held = table.copiesOnDie(m, d);
                if (held == 0) {
                    throw new IllegalArgumentException("die " + d + " holds no expert of MoE layer " + m
                            + ": SGLang needs experts on every GPU");
                }
                perDie = Math.max(perDie, held);
            }
        }
        int slots = perDie * dies;
        int[][] map = new int[model.numLayers()][];
        for (int l = 0; l < model.numLayers(); l++) {
            map[l] = new int[slots];
            for (int p = 0; p < slots; p++) {
                map[l][p] = p % experts;
            }
        }
        for (int m = 0; m < model.numMoeLayers(); m++) {
            int[] row = map[model.moeLayer(m)];
            for (int d = 0; d < dies; d++) {
                int[] held = new int[table.copiesOnDie(m, d)];
                for (int e = 0, n = 0; e < experts; e++) {
                    if (table.holds(m, e, d)) {
                        held[n++] = e;
                    }
                }
                for (int s = 0; s < perDie; s++) {
                    row[d * perDie + s] = held[s % held.length];
                }
            }
        }
        return map;
    }

    /** Per layer of the file the placement's phy2log; layers without load get the trivial map. */
    static int[][] physicalToLogicalMap(long[][] counts, String policyName, int dies, int redundant, int groups,
                                         int nodes) {
        var policy = PlacementPolicies.byName(policyName);
        int experts = counts[0].length;
        int[][] map = new int[counts.length][];
        boolean anyLoad = false;
        for (int l = 0; l < counts.length; l++) {
            double[] load = PlaceCommand.load(counts[l]);
            if (Arrays.stream(load).sum() == 0) {
                // Validate the shape on a trivial placement too, so a bad --dies fails the same way.
                new PlacementRequest(new double[experts], dies, redundant, groups, nodes, null);
                map[l] = new int[experts + redundant];
                for (int p = 0; p < map[l].length; p++) {
                    map[l][p] = p % experts;
                }
                continue;
            }
            anyLoad = true;
            LayerPlacement placement = policy.place(new PlacementRequest(load, dies, redundant, groups, nodes, null));
            map[l] = placement.physicalToLogical();
        }
        if (!anyLoad) {
            throw new IllegalArgumentException("every layer of the load file is zero");
        }
        return map;
    }
}
