package io.expertcast.launcher;

import io.expertcast.allocator.AllocatorCommand;
import io.expertcast.offline.ExportPlacementCommand;
import io.expertcast.offline.RebalanceCommand;
import io.expertcast.offline.PlaceCommand;
import io.expertcast.analysis.AnalyzeCommand;
import io.expertcast.attach.AttachCommand;
import io.expertcast.attach.ProxyCommand;
import io.expertcast.analysis.EvaluatePredictorCommand;
import io.expertcast.emulator.EmulatorCommand;
import io.expertcast.offline.SimulateCommand;
import io.expertcast.bench.BenchCommand;
import io.expertcast.launcher.broker.BrokerCommand;
import io.expertcast.launcher.deadletters.DeadLettersCommand;
import io.expertcast.launcher.demo.DemoCommand;
import io.expertcast.launcher.topics.TopicsCommand;
import io.expertcast.predictor.PredictorCommand;
import io.expertcast.replayer.ReplayCommand;
import io.expertcast.offline.SynthCommand;
import io.expertcast.replayer.sglang.ImportSglangCommand;
import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code expertcast} command: one entry point for every part of the pipeline (the
 * commands table of the README). Each module owns its picocli commands; this class only lists them.
 */
@Command(name = "expertcast",
        mixinStandardHelpOptions = true,
        versionProvider = ExpertcastCommand.Version.class,
        description = "Streaming expert-selection forecaster and placement controller for MoE serving "
                + "(arXiv 2510.05497).",
        subcommands = {BrokerCommand.class, TopicsCommand.class, ReplayCommand.class, SynthCommand.class, ImportSglangCommand.class, AttachCommand.class, ProxyCommand.class, AnalyzeCommand.class, EvaluatePredictorCommand.class,
            PredictorCommand.class,
            AllocatorCommand.class, PlaceCommand.class, ExportPlacementCommand.class, RebalanceCommand.class, EmulatorCommand.class, SimulateCommand.class, DemoCommand.class, DeadLettersCommand.class, BenchCommand.class, io.expertcast.launcher.chaos.ChaosCommand.class, CommandLine.HelpCommand.class})
public final class ExpertcastCommand implements Runnable {

    @Spec
    CommandSpec spec;

    /**
     * The exit codes every command keeps (each command's --help lists them): 0 done; 1 a failure at run time
     * (no broker, missing topics, a refused connection, I/O, a service that stopped on its own); 2 bad usage
     * or bad input (an option, a file) found before anything was done; 130/143 stopped by Ctrl-C/SIGTERM.
     */
    public static final Map<String, String> EXIT_CODES = exitCodes();

    private static Map<String, String> exitCodes() {
        Map<String, String> codes = new LinkedHashMap<>();
        codes.put("0", "done");
        codes.put("1", "failed at run time: no broker, missing topics, refused credentials, I/O, a service that stopped");
        codes.put("2", "bad usage or input (an option, a file), found before anything was sent or written");
        codes.put("130/143", "stopped by Ctrl-C / SIGTERM (a service: after a clean close; replay: after printing what it sent)");
        return java.util.Collections.unmodifiableMap(codes);
    }

    /** A command line with the launcher's conventions: usage on a missing subcommand, case-insensitive enums. */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new ExpertcastCommand());
        commandLine.setCaseInsensitiveEnumValuesAllowed(true);
        commandLine.setExecutionExceptionHandler(ExpertcastCommand::reportFailure);
        documentExitCodes(commandLine);
        return commandLine;
    }

    private static void documentExitCodes(CommandLine command) {
        if (command.getCommandSpec().usageMessage().exitCodeList().isEmpty()) {
            command.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(EXIT_CODES);
        }
        command.getSubcommands().values().forEach(ExpertcastCommand::documentExitCodes);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand");
    }

    /**
     * A command that throws gets one clear line naming the command, not a stack trace; set
     * EXPERTCAST_DEBUG=1 for the trace.
     */
    private static int reportFailure(Exception e, CommandLine failed, CommandLine.ParseResult parsed) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        failed.getErr().println(failed.getCommandSpec().qualifiedName() + ": " + message);
        if (System.getenv("EXPERTCAST_DEBUG") != null) {
            e.printStackTrace(failed.getErr());
        }
        return 1;
    }

    /** Reads the Maven-filtered version.properties, so the version has one source: the pom. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties properties = new Properties();
            try (InputStream in = ExpertcastCommand.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    properties.load(in);
                }
            }
            return new String[] {
                "expertcast " + properties.getProperty("version", "unknown"),
                "Kafka " + properties.getProperty("kafka", "unknown") + ", Java " + Runtime.version()
            };
        }
    }
}
