package io.expertcast.core.placement;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * DeepSeek's expert-parallelism load balancer (deepseek-ai/EPLB, {@code rebalance_experts}), re-expressed
 * in Java so our placements can be compared with it on the same loads (Insight 4's reference policy):
 * <ol>
 *   <li>hierarchical (when groups divide evenly over nodes): pack expert groups onto nodes, heaviest
 *       group first onto the lightest node with room (each node gets the same number of groups);</li>
 *   <li>within each node, add replicas one at a time to the expert with the highest load per replica;</li>
 *   <li>pack the node's physical experts onto its GPUs the same way (each GPU the same number).</li>
 * </ol>
 * Otherwise the same with one group and one node. Ties: the lower index (stable sort, first maximum,
 * first lightest pack), which reproduces the published example exactly.
 */
public final class EplbPlacement {

    /**
     * The placement of one layer.
     *
     * @param physicalToLogical per physical slot (GPU g holds slots g x slotsPerGpu ..), its logical expert
     * @param replicaRank       per physical slot, which replica of its expert it is (0 = first)
     * @param logicalCount      per logical expert, its number of replicas
     */
    public record Layer(int[] physicalToLogical, int[] replicaRank, int[] logicalCount) {
        /** Per logical expert its physical slots by replica rank, padded with -1 to {@code width}. */
        public int[][] logicalToPhysical(int width) {
            int[][] map = new int[logicalCount.length][width];
            for (int[] row : map) {
                Arrays.fill(row, -1);
            }
            for (int p = 0; p < physicalToLogical.length; p++) {
                map[physicalToLogical[p]][replicaRank[p]] = p;
            }
            return map;
        }
    }

    private EplbPlacement() {
    }

    /**
     * @param load      per logical expert its load (token count) in this layer
     * @param replicas  physical experts in all (logical experts + redundant ones), a multiple of gpus
     * @param groups    expert groups (must divide the expert count)
     * @param nodes     server nodes
     * @param gpus      GPUs, a multiple of nodes
     */
    public static Layer rebalance(double[] load, int replicas, int groups, int nodes, int gpus) {
        int experts = load.length;
        if (groups <= 0 || nodes <= 0 || gpus <= 0 || experts == 0) {
            throw new IllegalArgumentException("groups, nodes, gpus and experts must be positive");
        }
        if (groups % nodes != 0) {
            groups = 1; // EPLB's global policy: one group, one node
            nodes = 1;
        }
        if (experts % groups != 0 || gpus % nodes != 0 || replicas % gpus != 0 || replicas < experts) {
            throw new IllegalArgumentException("need experts % groups == 0, gpus % nodes == 0, replicas % gpus == 0 and"
                    + " replicas >= experts (experts " + experts + ", groups " + groups + ", nodes " + nodes + ", gpus "
                    + gpus + ", replicas " + replicas + ")");
        }
        int groupSize = experts / groups;
        int groupsPerNode = groups / nodes;
        int perNode = experts / nodes;
        int physicalPerNode = replicas / nodes;
        if (physicalPerNode < perNode) {
            throw new IllegalArgumentException("fewer physical than logical experts per node");
        }
        int slotsPerGpu = replicas / gpus;

        // 1. groups to nodes; "mlog" numbers experts node by node
        double[] groupLoad = new double[groups];
        for (int e = 0; e < experts; e++) {
            groupLoad[e / groupSize] += load[e];
        }
        int[][] groupPacking = balancedPacking(groupLoad, nodes);
        int[] logToMlog = new int[experts];
        int[] mlogToLog = new int[experts];
        for (int e = 0; e < experts; e++) {
            int g = e / groupSize;
            int m = (groupPacking[0][g] * groupsPerNode + groupPacking[1][g]) * groupSize + e % groupSize;
            logToMlog[e] = m;
            mlogToLog[m] = e;
        }
        int[] physicalToLogical = new int[replicas];
        int[] replicaRank = new int[replicas];
        int[] logicalCount = new int[experts];
        int gpusPerNode = gpus / nodes;
        for (int node = 0; node < nodes; node++) {
            // 2. replicas within the node
            double[] nodeLoad = new double[perNode];
            for (int i = 0; i < perNode; i++) {
                nodeLoad[i] = load[mlogToLog[node * perNode + i]];
            }
            int[] phyToLocal = new int[physicalPerNode];
            int[] rank = new int[physicalPerNode];
            int[] count = new int[perNode];
            for (int p = 0; p < perNode; p++) {
                phyToLocal[p] = p;
                count[p] = 1;
            }
            for (int p = perNode; p < physicalPerNode; p++) {
                int best = 0;
                for (int i = 1; i < perNode; i++) {
                    if (nodeLoad[i] / count[i] > nodeLoad[best] / count[best]) {
                        best = i;
                    }
                }
                phyToLocal[p] = best;
                rank[p] = count[best];
                count[best]++;
            }
            // 3. the node's physical experts to its GPUs
            double[] phyLoad = new double[physicalPerNode];
            for (int p = 0; p < physicalPerNode; p++) {
                phyLoad[p] = nodeLoad[phyToLocal[p]] / count[phyToLocal[p]];
            }
            int[][] gpuPacking = balancedPacking(phyLoad, gpusPerNode);
            for (int p = 0; p < physicalPerNode; p++) {
                int slot = node * physicalPerNode + gpuPacking[0][p] * slotsPerGpu + gpuPacking[1][p];
                int logical = mlogToLog[node * perNode + phyToLocal[p]];
                physicalToLogical[slot] = logical;
                replicaRank[slot] = rank[p];
            }
            for (int i = 0; i < perNode; i++) {
                logicalCount[mlogToLog[node * perNode + i]] = count[i];
            }
        }
        return new Layer(physicalToLogical, replicaRank, logicalCount);
    }

    /**
     * Packs items into {@code packs} packs of equal count, heaviest item first into the lightest pack
     * that still has room. Returns {pack of each item, rank of the item in its pack}.
     */
    static int[][] balancedPacking(double[] weight, int packs) {
        int n = weight.length;
        if (n % packs != 0) {
            throw new IllegalArgumentException(n + " items do not split evenly into " + packs + " packs");
        }
        int perPack = n / packs;
        int[] pack = new int[n];
        int[] rank = new int[n];
        if (perPack == 1) {
            for (int i = 0; i < n; i++) {
                pack[i] = i;
            }
            return new int[][] {pack, rank};
        }
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> weight[i]).reversed()); // stable
        double[] packWeight = new double[packs];
        int[] packItems = new int[packs];
        for (int item : order) {
            int best = -1;
            for (int p = 0; p < packs; p++) {
                if (packItems[p] < perPack && (best < 0 || packWeight[p] < packWeight[best])) {
                    best = p;
                }
            }
            pack[item] = best;
            rank[item] = packItems[best];
            packWeight[best] += weight[item];
            packItems[best]++;
        }
        return new int[][] {pack, rank};
    }
}
