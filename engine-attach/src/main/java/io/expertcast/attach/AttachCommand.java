package io.expertcast.attach;

import io.expertcast.attach.sglang.SglangAttach;
import io.expertcast.streams.connect.KafkaConnection;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code expertcast attach}: follow a live serving engine. */
@Command(name = "attach", mixinStandardHelpOptions = true,
        description = "Attach to a live serving engine and publish what it records.",
        subcommands = {AttachCommand.Sglang.class})
public final class AttachCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "Missing engine (sglang)");
    }

    /** {@code attach sglang}: the expert distribution recorder of an SGLang server. */
    @Command(name = "sglang", mixinStandardHelpOptions = true,
            description = {"Start the expert distribution recorder of an SGLang server, dump it every interval and"
                    + " publish each new dump once: per_token windows as selections and passes, every window's counts"
                    + " on moe.expert-load. Runs until Ctrl-C, which stops the recorder.",
                "The server must run with --expert-distribution-recorder-mode and"
                    + " SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR pointing at a folder this machine reads (--dump-dir)."})
    public static final class Sglang implements Callable<Integer> {
        @Option(names = "--url", required = true, description = "The SGLang server, e.g. http://127.0.0.1:30000.")
        String url;

        @Option(names = "--dump-dir", required = true,
                description = "The server's SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR as seen from here.")
        Path dumpDir;

        @Option(names = "--mode", defaultValue = "per_token",
                description = "The server's --expert-distribution-recorder-mode: per_token, per_pass or stat (default ${DEFAULT-VALUE}).")
        String mode;

        @Option(names = "--interval-s", defaultValue = "10", description = "Seconds between dumps (default ${DEFAULT-VALUE}).")
        double intervalS;

        @picocli.CommandLine.Mixin
        KafkaConnection kafka = new KafkaConnection();

        @Option(names = "--source-id", description = "This server's source id (default: sglang@<host>:<port> of --url).")
        String sourceId;

        @Option(names = "--model", description = "Catalog id or shape id:layers:moeLayers:experts:k (default: inferred"
                + " from the first per_token dump; the predictor accepts catalog models only).")
        String model;

        @Option(names = "--settle-ms", defaultValue = "500",
                description = "A dump file is read once its size and time held this long (default ${DEFAULT-VALUE}).")
        long settleMs;

        @Option(names = "--max-backoff-s", defaultValue = "60",
                description = "Longest wait between retries of a failing server (default ${DEFAULT-VALUE}).")
        long maxBackoffS;

        @Option(names = "--delete-published",
                description = "Delete each dump file once its window is committed to Kafka (default: keep them).")
        boolean deletePublished;

        @Override
        public Integer call() throws Exception {
            if (!mode.equals("per_token") && !mode.equals("per_pass") && !mode.equals("stat")) {
                System.err.println("attach sglang: --mode must be per_token, per_pass or stat (stat_approx dumps as stat)");
                return 2;
            }
            if (intervalS <= 0) {
                System.err.println("attach sglang: --interval-s must be positive");
                return 2;
            }
            URI uri;
            try {
                uri = URI.create(url);
            } catch (IllegalArgumentException e) {
                System.err.println("attach sglang: --url " + url + " is not a URL: " + e.getMessage());
                return 2;
            }
            if (uri.getHost() == null) {
                System.err.println("attach sglang: --url " + url + " names no host (e.g. http://127.0.0.1:30000)");
                return 2;
            }
            String source = sourceId != null ? sourceId : "sglang@" + uri.getHost() + ":" + (uri.getPort() < 0 ? 80 : uri.getPort());
            String bootstrap = kafka.bootstrap();
            SglangAttach.Options options = new SglangAttach.Options(url, dumpDir, mode, Math.round(intervalS * 1000),
                    bootstrap, source, model, settleMs, maxBackoffS * 1000, deletePublished, kafka.clientProperties());
            AtomicBoolean stop = new AtomicBoolean();
            CountDownLatch stopped = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                stop.set(true); // Ctrl-C: the loop makes a last dump, stops the recorder and returns
                try {
                    stopped.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }, "attach-shutdown");
            try (SglangAttach attach = new SglangAttach(options, System.out, System.err)) {
                Runtime.getRuntime().addShutdownHook(hook);
                System.out.println("attach " + source + ": " + url + " -> " + bootstrap + ", dumps read from " + dumpDir
                        + " every " + intervalS + " s (Ctrl-C stops)");
                try {
                    attach.run(stop);
                } finally {
                    stopped.countDown();
                }
                SglangAttach.Stats s = attach.stats();
                System.out.printf("attach %s: %d windows, %d passes, %d selections, %d loads, %d dead letters,"
                        + " %d server errors, recorder started %d times%n", source, s.windows(), s.passes(),
                        s.selections(), s.loads(), s.deadLetters(), s.serverErrors(), s.recorderStarts());
            } catch (IllegalArgumentException e) {
                System.err.println("attach sglang: " + e.getMessage());
                return 2;
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException | IllegalArgumentException shuttingDownOrNeverAdded) {
                    // Ctrl-C: the hook is waiting for the loop, which has returned
                }
            }
            return 0;
        }
    }
}
