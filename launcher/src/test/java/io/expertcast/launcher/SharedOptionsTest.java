package io.expertcast.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.streams.StateDir;
import io.expertcast.streams.connect.KafkaConnection;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Issue 21: the options every command shares are declared once. Every command of the tree that takes
 * {@code --bootstrap} (and every command known to talk to Kafka) takes {@code --bootstrap}, {@code --config}
 * and {@code --property} from the {@link KafkaConnection} mixin, and every {@code --state-dir} is the
 * {@link StateDir} mixin's: a command that declares its own fails here.
 */
class SharedOptionsTest {
    /** Commands that talk to Kafka (qualified names); each must have the mixin, and each must still exist. */
    private static final Set<String> KAFKA_COMMANDS = Set.of(
            "expertcast topics create", "expertcast topics list", "expertcast replay", "expertcast import-sglang",
            "expertcast attach sglang", "expertcast proxy", "expertcast predictor", "expertcast allocator",
            "expertcast export-placement", "expertcast rebalance", "expertcast emulator", "expertcast demo",
            "expertcast dead-letters", "expertcast chaos stages", "expertcast bench replay",
            "expertcast bench predictor", "expertcast bench proxy", "expertcast bench attach");
    /** Commands that run Kafka Streams applications and so keep state. */
    private static final Set<String> STATE_COMMANDS = Set.of("expertcast predictor", "expertcast allocator",
            "expertcast emulator", "expertcast chaos stages");

    private static List<CommandLine> tree(CommandLine root) {
        List<CommandLine> all = new ArrayList<>();
        all.add(root);
        root.getSubcommands().values().forEach(sub -> all.addAll(tree(sub)));
        return all;
    }

    /** The mixin (at any depth: a command's option group may itself mix it in) whose object is a {@code type}. */
    private static CommandSpec mixin(CommandSpec spec, Class<?> type) {
        for (CommandSpec m : spec.mixins().values()) {
            if (type.isInstance(m.userObject())) {
                return m;
            }
            CommandSpec nested = mixin(m, type);
            if (nested != null) {
                return nested;
            }
        }
        return null;
    }

    @Test
    void everyKafkaCommandTakesTheConnectionOptionsFromTheSharedMixin() {
        Set<String> kafka = new TreeSet<>();
        for (CommandLine command : tree(ExpertcastCommand.commandLine())) {
            CommandSpec spec = command.getCommandSpec();
            String name = spec.qualifiedName();
            if (spec.findOption("--bootstrap") == null && !KAFKA_COMMANDS.contains(name)) {
                continue;
            }
            kafka.add(name);
            CommandSpec shared = mixin(spec, KafkaConnection.class);
            assertNotNull(shared, name + " talks to Kafka without the KafkaConnection mixin");
            for (String option : new String[] {"--bootstrap", "--config", "--property"}) {
                OptionSpec own = spec.findOption(option);
                assertNotNull(own, name + " lacks " + option);
                assertSame(shared.findOption(option), own, name + " declares its own " + option);
            }
        }
        assertEquals(new TreeSet<>(KAFKA_COMMANDS), kafka, "the Kafka-talking commands");
    }

    @Test
    void everyStateDirIsTheSharedOneWithOneDefault() {
        Set<String> stateful = new TreeSet<>();
        for (CommandLine command : tree(ExpertcastCommand.commandLine())) {
            CommandSpec spec = command.getCommandSpec();
            OptionSpec own = spec.findOption("--state-dir");
            if (own == null) {
                continue;
            }
            stateful.add(spec.qualifiedName());
            CommandSpec shared = mixin(spec, StateDir.class);
            assertNotNull(shared, spec.qualifiedName() + " declares its own --state-dir");
            assertSame(shared.findOption("--state-dir"), own, spec.qualifiedName() + " declares its own --state-dir");
            assertEquals(StateDir.DEFAULT, own.defaultValue());
        }
        assertEquals(new TreeSet<>(STATE_COMMANDS), stateful);
    }

    @Test
    void theSharedOptionsParseTheSameEverywhere() {
        for (String name : new String[] {"predictor", "allocator", "emulator"}) {
            CommandLine cli = ExpertcastCommand.commandLine();
            CommandLine.ParseResult parsed = cli.parseArgs(name, "--bootstrap", "kafka:9093", "--property",
                    "security.protocol=SSL", "--state-dir", "/tmp/s");
            CommandSpec spec = parsed.subcommand().commandSpec();
            KafkaConnection connection = (KafkaConnection) mixin(spec, KafkaConnection.class).userObject();
            assertEquals("kafka:9093", connection.bootstrap(), name);
            assertEquals("SSL", connection.clientProperties().get("security.protocol"), name);
            assertEquals(Path.of("/tmp/s"), ((StateDir) mixin(spec, StateDir.class).userObject()).path(), name);
            CommandLine.ParseResult defaults = ExpertcastCommand.commandLine().parseArgs(name);
            assertEquals(Path.of(StateDir.DEFAULT),
                    ((StateDir) mixin(defaults.subcommand().commandSpec(), StateDir.class).userObject()).path(), name);
        }
        assertTrue(KAFKA_COMMANDS.containsAll(STATE_COMMANDS));
    }
}
