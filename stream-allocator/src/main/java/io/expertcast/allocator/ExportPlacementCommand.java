package io.expertcast.allocator;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.expertcast.core.placement.LayerPlacement;
import io.expertcast.core.placement.LogicalCountFile;
import io.expertcast.core.placement.PlacementPolicies;
import io.expertcast.core.placement.PlacementRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code expertcast export-placement --format sglang}: the placement of a load file as the JSON
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

    @Option(names = "--load", required = true, description = "logical_count JSON to place.")
    Path load;

    @Option(names = "--policy", defaultValue = "eplb", description = "Placement policy (default ${DEFAULT-VALUE}); see place --help.")
    String policy;

    @Option(names = "--dies", required = true, description = "Dies (GPUs): SGLang's EP size.")
    int dies;

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
        try {
            map = physicalToLogicalMap(LogicalCountFile.read(load), policy, dies, redundant, groups, nodes);
        } catch (IOException | IllegalArgumentException e) {
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
                    + policy + " on " + dies + " dies) -> " + out);
        }
        return 0;
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
