package io.expertcast.core.synth;

import java.util.List;

/**
 * The benchmarks and subjects synthetic requests are tagged with, in the dataset's order
 * (benchmark names sort as the dataset's folders do), and the share of requests each gets. The
 * mix follows the paper's workload: MMLU in English and Chinese, Chinese-SimpleQA, LiveCodeBench.
 */
public final class SyntheticWorkload {
    /** A benchmark of the mix: its language ("en" or "zh"), subjects and share of the requests. */
    public record Benchmark(String name, String language, List<String> subjects, double share) {
    }

    public static final List<Benchmark> BENCHMARKS = List.of(
            new Benchmark("Chinese-SimpleQA", "zh", List.of("中华文化", "自然与自然科学"), 0.10),
            new Benchmark("livecodebench", "en", List.of("execution"), 0.10),
            new Benchmark("mmlu", "en", List.of("abstract_algebra", "anatomy", "astronomy", "college_biology",
                    "high_school_physics", "philosophy"), 0.55),
            new Benchmark("mmlu_ZH_CN", "zh", List.of("abstract_algebra", "anatomy", "astronomy", "college_biology"),
                    0.25));

    /** Where request {@code index} of {@code total} falls: its benchmark, subject and query index. */
    public record Slot(Benchmark benchmark, String subject, int subjectIndex, int queryIndex) {
    }

    private SyntheticWorkload() {
    }

    /**
     * Requests 0..total-1 in dataset order: contiguous blocks per benchmark (by share), and within a
     * benchmark contiguous blocks per subject with the query index numbered across the benchmark, as
     * the real dataset numbers them.
     */
    public static Slot slot(int index, int total) {
        int start = 0;
        for (int b = 0; b < BENCHMARKS.size(); b++) {
            Benchmark bench = BENCHMARKS.get(b);
            int count = b == BENCHMARKS.size() - 1 ? total - start : (int) Math.round(total * bench.share());
            if (index < start + count) {
                int query = index - start;
                int perSubject = Math.max(1, (int) Math.ceil(count / (double) bench.subjects().size()));
                int s = Math.min(bench.subjects().size() - 1, query / perSubject);
                return new Slot(bench, bench.subjects().get(s), s, query);
            }
            start += count;
        }
        throw new IllegalArgumentException("request " + index + " of " + total);
    }
}
