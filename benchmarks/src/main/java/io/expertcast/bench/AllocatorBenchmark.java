package io.expertcast.bench;

import io.expertcast.core.allocation.AllocationResult;
import io.expertcast.core.allocation.TaskAllocator;
import io.expertcast.core.hardware.DieCostModel;
import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.placement.ExpertDistributionTable;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Algorithm 1 ({@link TaskAllocator}) for one DeepSeek-V3 MoE layer (256 experts, top-8) per call:
 * a batch of B tokens routed with Zipf(1.0) popularity over a fixed random ranking of the experts
 * (SGLang's real DeepSeek decode loads have max/mean 5.6-8.1 per layer; Zipf(1.0) over 256 gives 6.4)
 * onto the even, EP-like expert table of the mesh.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class AllocatorBenchmark {
    @Param({"dojo-5x5", "tsmc-sow-8x3"})
    public String mesh;

    @Param({"4096", "16384"})
    public int batch;

    /** The allocator's cost: the emulator's (today) or the paper-style one of issue 5 (before), in one run. */
    @Param({"emulator", "paper"})
    public String cost;

    private TaskAllocator allocator;
    private ExpertDistributionTable table;
    private int[] tokensPerExpert;
    private final ModelShape model = ModelCatalog.DEEPSEEK_V3;

    @Setup
    public void setUp() {
        HardwareConfig hw = HardwareConfig.load(mesh);
        allocator = new TaskAllocator(Mesh.of(hw), new DieCostModel(hw), mode(cost));
        table = ExpertDistributionTable.even(model, hw.dies());
        tokensPerExpert = zipfRouting(model.numExperts(), model.topK(), batch, 1.0, 7);
    }

    static TaskAllocator.Mode mode(String cost) {
        return switch (cost) {
            case "emulator" -> TaskAllocator.Mode.EMULATOR;
            case "paper" -> TaskAllocator.Mode.PAPER;
            default -> throw new IllegalArgumentException("cost must be emulator or paper, got " + cost);
        };
    }

    /** The layer time of this benchmark's plan as the emulator would time it, in ns. */
    double emulatedLayerNs() {
        HardwareConfig hw = HardwareConfig.load(mesh);
        return new io.expertcast.core.allocation.LayerTimer(hw).time(model, table, 0, oneLayer());
    }

    @Benchmark
    public AllocationResult oneLayer() {
        return allocator.allocate(model, table, 0, tokensPerExpert);
    }

    /** Tokens per expert when each of {@code tokens} tokens picks k distinct experts by Zipf popularity. */
    static int[] zipfRouting(int experts, int k, int tokens, double s, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] rank = new int[experts];
        for (int i = 0; i < experts; i++) {
            rank[i] = i;
        }
        for (int i = experts - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = rank[i];
            rank[i] = rank[j];
            rank[j] = t;
        }
        double[] cumulative = new double[experts];
        double sum = 0;
        for (int r = 0; r < experts; r++) {
            sum += 1 / Math.pow(r + 1, s);
            cumulative[r] = sum;
        }
        int[] counts = new int[experts];
        boolean[] picked = new boolean[experts];
        for (int t = 0; t < tokens; t++) {
            java.util.Arrays.fill(picked, false);
            for (int a = 0; a < k; a++) {
                int r;
                do {
                    double u = random.nextDouble() * sum;
                    int lo = 0;
                    int hi = experts - 1;
                    while (lo < hi) {
                        int mid = (lo + hi) >>> 1;
                        if (cumulative[mid] < u) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    r = lo;
                } while (picked[r]);
                picked[r] = true;
                counts[rank[r]]++;
            }
        }
        return counts;
    }
}
