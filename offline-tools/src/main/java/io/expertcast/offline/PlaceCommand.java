package io.expertcast.offline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.expertcast.core.placement.LayerPlacement;
import io.expertcast.core.placement.LogicalCountFile;
import io.expertcast.core.placement.PairCountFile;
import io.expertcast.core.placement.PlacementPolicies;
import io.expertcast.core.placement.PlacementRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code expertcast place}: a placement of a load file's experts on N dies (GPUs) by a named policy,
 * printed with EPLB's names (phy2log, log2phy, logcnt) and the max/mean load per die.
 */
@Command(name = "place", mixinStandardHelpOptions = true,
        description = "Place the experts of a logical_count load file on N dies (GPUs) and report the load balance.")
public final class PlaceCommand implements Callable<Integer> {

    enum Format { text, json }

    @Option(names = "--policy", defaultValue = "eplb", description = "even (contiguous, EP-like), eplb (DeepSeek's EPLB), "
            + "hot-replicate (Insight 4: EP homes kept, spare slots to the hottest per copy), pair-separate "
            + "(Insight 5 packing; plain greedy packing without pair counts). Default: ${DEFAULT-VALUE}.")
    String policy;

    @Option(names = "--load", required = true, description = "logical_count JSON: {\"logical_count\": [[count per expert] per layer]}.")
    Path load;

    @Option(names = "--dies", required = true, description = "Dies (GPUs) to place on.")
    int dies;

    @Option(names = "--replicas", defaultValue = "0", description = "Redundant experts: physical slots beyond one per logical expert (default ${DEFAULT-VALUE}).")
    int redundant;

    @Option(names = "--groups", defaultValue = "1", description = "Expert groups, for EPLB's hierarchical policy (default ${DEFAULT-VALUE}).")
    int groups;

    @Option(names = "--nodes", defaultValue = "1", description = "Server nodes, for EPLB's hierarchical policy (default ${DEFAULT-VALUE}).")
    int nodes;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--pairs", paramLabel = "FILE", description = "Per-layer co-activation counts (analyze --pairs-out), "
            + "same layers and experts as --load: --policy pair-separate places with them, every policy reports "
            + "the co-activations left on one die.")
    Path pairs;

    @Option(names = "--model", description = "Model id the load belongs to: the --pairs file must be of this model.")
    String model;

    @Option(names = "--measure", paramLabel = "FILE", description = "Also report max/mean load per die of the placement "
            + "under another logical_count file of the same shape (out-of-sample: e.g. place on prefill, measure on decode).")
    Path measure;

    /** A placement of every layer and its balance. */
    record Placement(List<Integer> layers, List<LayerPlacement> placements, double[] maxOverMean) {
        double meanMaxOverMean() {
            return java.util.Arrays.stream(maxOverMean).average().orElse(Double.NaN);
        }

        /**
         * Of all co-activations (a token selecting both experts of a pair), the share whose experts
         * share a die in every copy, so the pair's work serializes there (lower = more per-die parallelism).
         */
        double sameDieShare(PairCountFile pairs) {
            double same = 0;
            double total = 0;
            for (int i = 0; i < layers.size(); i++) {
                double[][] m = pairs.matrix(layers.get(i));
                LayerPlacement p = placements.get(i);
                int experts = m.length;
                int[] onlyDie = new int[experts]; // the die of a single-copy expert, -1 with several copies
                java.util.Arrays.fill(onlyDie, -2);
                int[] phy2log = p.physicalToLogical();
                for (int slot = 0; slot < phy2log.length; slot++) {
                    int e = phy2log[slot];
                    onlyDie[e] = onlyDie[e] == -2 ? p.dieOfSlot(slot) : -1;
                }
                for (int a = 0; a < experts; a++) {
                    for (int b = a + 1; b < experts; b++) {
                        if (m[a][b] > 0) {
                            total += m[a][b];
                            if (onlyDie[a] >= 0 && onlyDie[a] == onlyDie[b]) {
                                same += m[a][b];
                            }
                        }
                    }
                }
            }
            return total == 0 ? 0 : same / total;
        }
    }

    @Override
    public Integer call() throws IOException {
        long[][] counts;
        try {
            counts = LogicalCountFile.read(load);
        } catch (IOException e) {
            System.err.println("place: " + e.getMessage());
            return 2;
        }
        Placement placement;
        double[] measured = null;
        PairCountFile pairCounts = null;
        try {
            if (pairs != null) {
                pairCounts = PairCountFile.read(pairs, counts.length, counts[0].length, model);
            }
            // pair-separate places with the counts; any other policy is only measured against them.
            placement = place(counts, policy, dies, redundant, groups, nodes,
                    policy.equals("pair-separate") ? pairCounts : null);
            if (measure != null) {
                measured = measure(placement, counts, LogicalCountFile.read(measure), measure);
            }
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("place: " + e.getMessage());
            return 2;
        }
        int experts = counts[0].length;
        int slots = experts + redundant;
        if (format == Format.json) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("policy", policy);
            json.put("dies", dies);
            json.put("logical_experts", experts);
            json.put("physical_experts", slots);
            json.put("layers", placement.layers());
            int width = placement.placements().stream().flatMapToInt(p -> java.util.Arrays.stream(p.logicalCount()))
                    .max().orElse(1);
            json.put("phy2log", placement.placements().stream().map(LayerPlacement::physicalToLogical).toList());
            json.put("log2phy", placement.placements().stream().map(p -> p.logicalToPhysical(width)).toList());
            json.put("logcnt", placement.placements().stream().map(LayerPlacement::logicalCount).toList());
            json.put("max_over_mean_load_per_layer", placement.maxOverMean());
            json.put("max_over_mean_load", placement.meanMaxOverMean());
            if (pairCounts != null) {
                json.put("co_activated_on_one_die", placement.sameDieShare(pairCounts));
            }
            if (measured != null) {
                json.put("measured_on", measure.toString());
                json.put("measured_max_over_mean_load_per_layer", measured);
                json.put("measured_max_over_mean_load", mean(measured));
            }
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(json));
            return 0;
        }
        LayerPlacement first = placement.placements().get(0);
        System.out.printf(Locale.ROOT, "%s: %d logical experts on %d dies, %d physical slots (%d per die), %d loaded layers%n",
                policy, experts, dies, slots, slots / dies, placement.layers().size());
        System.out.printf(Locale.ROOT, "max/mean load per die: %.3f (mean over layers), %.3f (worst layer)%n",
                placement.meanMaxOverMean(), java.util.Arrays.stream(placement.maxOverMean()).max().orElse(Double.NaN));
        if (pairCounts != null) {
            System.out.printf(Locale.ROOT, "co-activations with both experts on one die: %.2f %% (pairs from %s)%n",
                    100 * placement.sameDieShare(pairCounts), pairs);
        }
        if (measured != null) {
            System.out.printf(Locale.ROOT, "max/mean load per die measured on %s: %.3f (mean over layers), %.3f (worst layer)%n",
                    measure, mean(measured), java.util.Arrays.stream(measured).max().orElse(Double.NaN));
        }
        System.out.println("layer " + placement.layers().get(0) + " phy2log: " + java.util.Arrays.toString(first.physicalToLogical()));
        System.out.println("layer " + placement.layers().get(0) + " logcnt:  " + java.util.Arrays.toString(first.logicalCount()));
        return 0;
    }

    /** Places every layer with load (all-zero layers, e.g. DeepSeek's dense 0-2, are skipped). */
    static Placement place(long[][] counts, String policyName, int dies, int redundant, int groups, int nodes) {
        return place(counts, policyName, dies, redundant, groups, nodes, null);
    }

    /** As above, with each layer's co-activation counts when {@code pairs} is not null. */
    static Placement place(long[][] counts, String policyName, int dies, int redundant, int groups, int nodes,
                           PairCountFile pairs) {
        var policy = PlacementPolicies.byName(policyName);
        int experts = counts[0].length;
        List<Integer> layers = new ArrayList<>();
        List<LayerPlacement> placements = new ArrayList<>();
        List<Double> balance = new ArrayList<>();
        for (int l = 0; l < counts.length; l++) {
            double[] load = load(counts[l]);
            if (java.util.Arrays.stream(load).sum() == 0) {
                continue;
            }
            LayerPlacement p = policy.place(new PlacementRequest(load, dies, redundant, groups, nodes,
                    pairs == null ? null : pairs.matrix(l)));
            layers.add(l);
            placements.add(p);
            balance.add(p.maxOverMean(load));
        }
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("every layer of the load file is zero");
        }
        return new Placement(layers, placements, balance.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /**
     * Max/mean die load of each placed layer under another file's counts of the same layer (a layer
     * without load there is skipped); IllegalArgumentException when the shapes differ or nothing is left.
     */
    static double[] measure(Placement placement, long[][] placedOn, long[][] other, Path otherFile) {
        if (other.length != placedOn.length || other[0].length != placedOn[0].length) {
            throw new IllegalArgumentException(otherFile + ": logical_count is " + other.length + " layers x "
                    + other[0].length + " experts, the placed file " + placedOn.length + " x " + placedOn[0].length);
        }
        List<Double> balance = new ArrayList<>();
        for (int i = 0; i < placement.layers().size(); i++) {
            double[] load = load(other[placement.layers().get(i)]);
            if (java.util.Arrays.stream(load).sum() > 0) {
                balance.add(placement.placements().get(i).maxOverMean(load));
            }
        }
        if (balance.isEmpty()) {
            throw new IllegalArgumentException(otherFile + ": no load in any placed layer");
        }
        return balance.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static double mean(double[] values) {
        return java.util.Arrays.stream(values).average().orElse(Double.NaN);
    }

    static double[] load(long[] counts) {
        double[] load = new double[counts.length];
        for (int e = 0; e < counts.length; e++) {
            load[e] = counts[e];
        }
        return load;
    }
}
