package io.expertcast.core.synth;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;

/**
 * Synthetic expert selections with the structure the paper observed, calibrated per model
 * ({@link SyntheticCalibration}) so that {@code analyze} reproduces the paper's figures.
 *
 * <p>Each MoE layer's experts are split into groups ({@code groupFactor} x k experts; 4 for top-1 models). A token is in
 * one group per layer, and its k picks come from that group (each with chance {@code pairWeight},
 * weighted by the workload's popularity) or else from the workload's popularity over all experts.
 * The group of a token at a layer is:
 * <ol>
 *   <li>token->token (Ob2), chance {@code tokenWeight}: a successor of the previous token's group at
 *       this layer, from a sparse per-group table whose self-repeat (the paper's diagonal) grows with depth;</li>
 *   <li>layer->layer (Ob1), chance {@code layerWeight}: a successor of this token's group at the
 *       previous MoE layer;</li>
 *   <li>chance {@code requestWeight}: one of the request's favourite groups, fixed per request, so its
 *       prefill predicts its decode (Ob3);</li>
 *   <li>else drawn by the workload's popularity of groups.</li>
 * </ol>
 * Popularity (Ob4, Insight 6) is Zipf over a ranking that starts with two experts hot for every
 * workload, then the language's, the benchmark's and the subject's own hot experts, so English and
 * Chinese MMLU share only the two global ones (Chinese requests also run the whole structure on
 * relabelled experts, all but the global two); at one layer a token picks one expert with chance
 * {@code hotShare}. A source that does not apply (first token, first MoE layer) passes its chance to
 * popularity. Tables come from the seed; request i draws from its own random stream, so any request
 * can be generated alone and the output for a seed is the same whatever the order or thread.
 */
public final class SyntheticTraceGenerator {
    private static final int GLOBAL_HOT = 2;
    private static final int LANGUAGE_HOT = 6;
    private static final int BENCHMARK_HOT = 3;
    private static final int SUBJECT_HOT = 2;
    private static final int MAX_PREFILL = 4096;

    private final ModelShape model;
    private final SyntheticCalibration calibration;
    private final long seed;
    private final int layers;
    private final int experts;
    private final int k;
    private final int[][] permutation;        // per layer: the expert order hot blocks are cut from
    private final int[][][] groupMembers;     // per layer, per group: its experts
    private final AliasTable[][] tokenSuccessors;  // per layer, per group: the next token's group
    private final AliasTable[][] layerSuccessors;  // per layer l >= 1, per group at l-1: the group at l
    private final int hotLayer;
    private final int[][] chineseLabels;      // per layer: how Chinese requests relabel experts
    private final Map<String, Workload> workloads = new HashMap<>();

    /** A workload's popularity at every layer: over experts, over groups, and within each group. */
    private record Workload(AliasTable[] experts, AliasTable[] groups, AliasTable[][] withinGroup, int[] hottest) {
    }

    public SyntheticTraceGenerator(ModelShape model, SyntheticCalibration calibration, long seed) {
        this.model = model;
        this.calibration = calibration;
        this.seed = seed;
        this.layers = model.numMoeLayers();
        this.experts = model.numExperts();
        this.k = model.topK();
        if (experts < 2 * k) {
            throw new IllegalArgumentException(model.id() + ": need at least 2k experts for distinct top-k picks");
        }
        SplittableRandom tables = new SplittableRandom(seed ^ 0x5DEECE66DL);
        permutation = new int[layers][];
        groupMembers = new int[layers][][];
        int groupSize = Math.min(experts, k == 1 ? 4 : Math.max(k, (int) Math.round(calibration.groupFactor() * k)));
        int groups = (experts + groupSize - 1) / groupSize;
        for (int l = 0; l < layers; l++) {
            permutation[l] = shuffled(experts, tables);
            int[] order = shuffled(experts, tables);
            groupMembers[l] = new int[groups][];
            for (int g = 0; g < groups; g++) {
                groupMembers[l][g] = Arrays.copyOfRange(order, g * groupSize, Math.min(experts, (g + 1) * groupSize));
            }
        }
        // The paper's hottest expert is Llama-4's at layer 7; elsewhere a layer about a third deep.
        int seven = model.moeIndexOf(7);
        hotLayer = seven >= 0 ? seven : Math.min(layers - 1, (int) Math.round(layers * 0.3));
        // Chinese requests run the same structure on other experts (a per-layer relabelling that keeps
        // only the two global hot experts), so English and Chinese share just those two (Ob4).
        chineseLabels = new int[layers][];
        for (int l = 0; l < layers; l++) {
            int[] others = Arrays.copyOfRange(permutation[l], GLOBAL_HOT, experts);
            int[] shuffledOthers = others.clone();
            int[] order = shuffled(others.length, tables);
            for (int i = 0; i < others.length; i++) {
                shuffledOthers[i] = others[order[i]];
            }
            chineseLabels[l] = new int[experts];
            for (int i = 0; i < GLOBAL_HOT; i++) {
                chineseLabels[l][permutation[l][i]] = permutation[l][i];
            }
            for (int i = 0; i < others.length; i++) {
                chineseLabels[l][others[i]] = shuffledOthers[i];
            }
        }
        int successors = Math.max(2, groups / 16);
        Workload base = workload(null, null, null);
        tokenSuccessors = new AliasTable[layers][groups];
        layerSuccessors = new AliasTable[layers][groups];
        for (int l = 0; l < layers; l++) {
            double diagonal = calibration.diagonalFirst() + (calibration.diagonalLast() - calibration.diagonalFirst())
                    * (layers == 1 ? 0 : l / (double) (layers - 1));
            for (int g = 0; g < groups; g++) {
                tokenSuccessors[l][g] = successorTable(g, diagonal, successors, base.groups()[l], tables);
                layerSuccessors[l][g] = successorTable(-1, 0, successors, base.groups()[l], tables);
            }
        }
    }

    public ModelShape model() {
        return model;
    }

    /** The requests 0..count-1 of a run of {@code count}, in dataset order. */
    public Iterator<RequestTrace> requests(int count) {
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < count;
            }

            @Override
            public RequestTrace next() {
                if (next >= count) {
                    throw new NoSuchElementException();
                }
                return request(next++, count);
            }
        };
    }

    /** Request {@code index} of a run of {@code total} (the total fixes its workload tags). */
    public RequestTrace request(int index, int total) {
        return request(index, total, Integer.MAX_VALUE, false);
    }

    /**
     * Request {@code index} of a run of {@code total} with only what a decode-only run reads: its first
     * {@code maxDecodeSteps} decode steps and, when {@code lastPrefillOnly}, a prefill step holding just
     * its last prefill token. Those tokens equal the full request's: every prefill token is still drawn.
     */
    public RequestTrace request(int index, int total, int maxDecodeSteps, boolean lastPrefillOnly) {
        SyntheticWorkload.Slot slot = SyntheticWorkload.slot(index, total);
        SplittableRandom random = new SplittableRandom(mix(seed, index));
        Workload w = workload(slot.benchmark().language(), slot.benchmark().name(), slot.subject());
        int[][] favourite = new int[layers][2];
        for (int l = 0; l < layers; l++) {
            favourite[l][0] = w.groups()[l].sample(random);
            favourite[l][1] = w.groups()[l].sample(random);
        }
        int prefill = (int) Math.max(1, Math.min(MAX_PREFILL, Math.round(Math.exp(
                Math.log(calibration.prefillMedian()) + calibration.prefillSigma() * random.nextGaussian()))));
        int decode = random.nextDouble() < calibration.fullDecodeShare() ? SyntheticCalibration.MAX_DECODE_STEPS
                : 16 + random.nextInt(SyntheticCalibration.MAX_DECODE_STEPS - 16);
        int perToken = layers * k;
        int kept = Math.min(decode, maxDecodeSteps);
        List<int[]> steps = new ArrayList<>(kept + 1);
        int[] previousGroups = null;
        int[] groupsNow = new int[layers];
        Picks picked = new Picks(experts);
        int keptPrefill = lastPrefillOnly ? 1 : prefill;
        int[] prefillIds = new int[keptPrefill * perToken];
        for (int t = 0; t < prefill; t++) {
            // Every prefill token is drawn (the random stream must stay the same), only the kept ones stored.
            int[] token = token(previousGroups, groupsNow, w, favourite, random, picked);
            int at = t - (prefill - keptPrefill);
            if (at >= 0) {
                System.arraycopy(token, 0, prefillIds, at * perToken, perToken);
            }
            previousGroups = groupsNow.clone();
        }
        steps.add(prefillIds);
        for (int s = 0; s < kept; s++) { // later steps are drawn after these, so stopping early changes none
            steps.add(token(previousGroups, groupsNow, w, favourite, random, picked));
            previousGroups = groupsNow.clone();
        }
        if (slot.benchmark().language().equals("zh")) {
            for (int[] ids : steps) {
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = chineseLabels[(i / k) % layers][ids[i]];
                }
            }
        }
        String query = Integer.toString(slot.queryIndex());
        return new RequestTrace(model, model.id() + "/" + slot.benchmark().name() + "/" + slot.subject() + "/" + query,
                slot.benchmark().name(), slot.subject(), slot.benchmark().language(), steps);
    }

    /** One token's picks, [layer][k], distinct within a layer; fills {@code groupsNow} with its groups. */
    private int[] token(int[] previousGroups, int[] groupsNow, Workload w, int[][] favourite, SplittableRandom random,
                        Picks picked) {
        int[] ids = new int[layers * k];
        for (int l = 0; l < layers; l++) {
            picked.next();
            int group = group(previousGroups, groupsNow, l, w, favourite[l], random);
            groupsNow[l] = group;
            int at = l * k;
            int filled = 0;
            if (l == hotLayer && random.nextDouble() < calibration.hotShare()) {
                ids[at + filled++] = w.hottest()[l];
                picked.take(w.hottest()[l]);
            }
            while (filled < k) {
                int pick = -1;
                for (int attempt = 0; attempt < 16 && pick < 0; attempt++) {
                    int candidate = random.nextDouble() < calibration.pairWeight()
                            ? w.withinGroup()[l][group].sample(random) : w.experts()[l].sample(random);
                    if (!picked.has(candidate)) {
                        pick = candidate;
                    }
                }
                while (pick < 0) { // rare: the sources kept repeating picks
                    int candidate = random.nextInt(experts);
                    if (!picked.has(candidate)) {
                        pick = candidate;
                    }
                }
                ids[at + filled++] = pick;
                picked.take(pick);
            }
        }
        return ids;
    }

    /** The experts already picked at one token and layer: a stamp per expert, O(1) instead of a scan of the picks. */
    private static final class Picks {
        private final int[] mark;
        private int stamp;

        Picks(int experts) {
            mark = new int[experts];
        }

        void next() {
            stamp++;
        }

        boolean has(int expert) {
            return mark[expert] == stamp;
        }

        void take(int expert) {
            mark[expert] = stamp;
        }
    }

    private int group(int[] previousGroups, int[] groupsNow, int l, Workload w, int[] favourite, SplittableRandom random) {
        double u = random.nextDouble();
        if (u < calibration.tokenWeight()) {
            if (previousGroups != null) {
                return tokenSuccessors[l][previousGroups[l]].sample(random);
            }
        } else if ((u -= calibration.tokenWeight()) < calibration.layerWeight()) {
            if (l > 0) {
                return layerSuccessors[l][groupsNow[l - 1]].sample(random);
            }
        } else if (u - calibration.layerWeight() < calibration.requestWeight()) {
            return favourite[random.nextInt(favourite.length)];
        }
        return w.groups()[l].sample(random);
    }

    /**
     * A workload's popularity: Zipf weights over a ranking that puts the global hot experts first,
     * then the language's, benchmark's and subject's own (all null: the base ranking).
     */
    private synchronized Workload workload(String language, String benchmark, String subject) {
        String key = language + "|" + benchmark + "|" + subject;
        Workload cached = workloads.get(key);
        if (cached != null) {
            return cached;
        }
        AliasTable[] expertTables = new AliasTable[layers];
        AliasTable[] groupTables = new AliasTable[layers];
        AliasTable[][] within = new AliasTable[layers][];
        int[] hottest = new int[layers];
        for (int l = 0; l < layers; l++) {
            int[] perm = permutation[l];
            List<Integer> ranking = new ArrayList<>();
            addBlock(ranking, perm, 0, GLOBAL_HOT);
            if (language != null) {
                addBlock(ranking, perm, GLOBAL_HOT + LANGUAGE_HOT * (language.equals("zh") ? 1 : 0), LANGUAGE_HOT);
                int b = benchmarkIndex(benchmark);
                addBlock(ranking, perm, GLOBAL_HOT + 2 * LANGUAGE_HOT + BENCHMARK_HOT * b, BENCHMARK_HOT);
                int s = subjectIndex(benchmark, subject);
                addBlock(ranking, perm, GLOBAL_HOT + 2 * LANGUAGE_HOT + BENCHMARK_HOT * SyntheticWorkload.BENCHMARKS.size()
                        + SUBJECT_HOT * s, SUBJECT_HOT);
            }
            for (int e : perm) {
                if (!ranking.contains(e)) {
                    ranking.add(e);
                }
            }
            double[] weightOf = new double[experts];
            for (int r = 0; r < experts; r++) {
                weightOf[ranking.get(r)] = 1 / Math.pow(r + 1, calibration.zipf());
            }
            hottest[l] = ranking.get(0);
            int[] all = new int[experts];
            for (int e = 0; e < experts; e++) {
                all[e] = e;
            }
            expertTables[l] = new AliasTable(all, weightOf);
            int[][] members = groupMembers[l];
            double[] groupWeight = new double[members.length];
            int[] groupIds = new int[members.length];
            within[l] = new AliasTable[members.length];
            for (int g = 0; g < members.length; g++) {
                groupIds[g] = g;
                double[] w = new double[members[g].length];
                for (int i = 0; i < w.length; i++) {
                    w[i] = weightOf[members[g][i]];
                    groupWeight[g] += w[i];
                }
                within[l][g] = new AliasTable(members[g], w);
            }
            groupTables[l] = new AliasTable(groupIds, groupWeight);
        }
        Workload w = new Workload(expertTables, groupTables, within, hottest);
        workloads.put(key, w);
        return w;
    }

    private void addBlock(List<Integer> ranking, int[] perm, int from, int size) {
        for (int i = 0; i < size; i++) {
            int e = perm[(from + i) % experts]; // small custom shapes wrap around; blocks then overlap
            if (!ranking.contains(e)) {
                ranking.add(e);
            }
        }
    }

    private static int benchmarkIndex(String benchmark) {
        for (int b = 0; b < SyntheticWorkload.BENCHMARKS.size(); b++) {
            if (SyntheticWorkload.BENCHMARKS.get(b).name().equals(benchmark)) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown benchmark " + benchmark);
    }

    /** Subjects numbered across all benchmarks, so each has its own hot block. */
    private static int subjectIndex(String benchmark, String subject) {
        int index = 0;
        for (SyntheticWorkload.Benchmark b : SyntheticWorkload.BENCHMARKS) {
            if (b.name().equals(benchmark)) {
                return index + b.subjects().indexOf(subject);
            }
            index += b.subjects().size();
        }
        throw new IllegalArgumentException("unknown benchmark " + benchmark);
    }

    /** A sparse successor distribution: {@code self} with weight {@code diagonal}, the others geometric. */
    private static AliasTable successorTable(int self, double diagonal, int count, AliasTable popular,
                                             SplittableRandom random) {
        int[] chosen = new int[count + (self >= 0 ? 1 : 0)];
        double[] weights = new double[chosen.length];
        int n = 0;
        if (self >= 0) {
            chosen[n] = self;
            weights[n++] = diagonal;
        }
        double others = 1 - (self >= 0 ? diagonal : 0);
        double norm = 0;
        for (int i = 0; i < count; i++) {
            norm += Math.pow(0.5, i);
        }
        for (int i = 0; i < count; i++) {
            int g;
            int tries = 0;
            do {
                g = popular.sample(random);
            } while (contains(chosen, 0, n, g) && ++tries < 1000);
            chosen[n] = g;
            weights[n++] = others * Math.pow(0.5, i) / norm;
        }
        return new AliasTable(chosen, weights);
    }

    private static boolean contains(int[] values, int from, int count, int value) {
        for (int i = from; i < from + count; i++) {
            if (values[i] == value) {
                return true;
            }
        }
        return false;
    }

    private static int[] shuffled(int n, SplittableRandom random) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    private static long mix(long seed, long index) {
        long z = seed * 0x9E3779B97F4A7C15L + index;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
