package io.expertcast.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code expertcast bench}: benchmarks that print figures and ratios measured in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: each prints its figures beside a baseline measured in the same run.",
        subcommands = {ReplayBench.class, EmulatorBench.class, AllocatorBench.class, PredictorBench.class,
                SerdeBench.class, NextTokenBench.class, AggregatorBench.class, AttachBench.class, ProxyBench.class})
public final class BenchCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing benchmark (see --help)");
    }
}
