package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.testing.ConsoleCapture;
import io.expertcast.core.testing.ConsoleCapture.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class RebalanceCommandTest {
    private static final String LOAD = "../data/sample/sglang-ep-stats/deepseek-v3/decode_in1000out1000.json";

    @TempDir
    Path temp;

    private static Run run(String... args) {
        return ConsoleCapture.run(() -> new CommandLine(new RebalanceCommand()).execute(args));
    }

    @Test
    void moreMovesBuyBetterBalanceAndNoLayerExceedsItsBudget() {
        Run r = run("--load", LOAD, "--max-moves", "0,8,64");
        assertEquals(0, r.exit(), r.err());
        List<String> rows = r.out().lines().skip(2).toList();
        assertEquals(3, rows.size(), r.out());
        double[] balance = new double[3];
        int[] moved = new int[3];
        for (int i = 0; i < 3; i++) {
            String[] f = rows.get(i).trim().split("\\s+");
            moved[i] = Integer.parseInt(f[1]);
            balance[i] = Double.parseDouble(f[3]);
        }
        assertEquals(0, moved[0]);
        assertTrue(moved[1] > 0 && moved[1] <= 8 * 58, r.out());
        assertTrue(moved[2] > moved[1] && moved[2] <= 64 * 58, r.out());
        assertTrue(balance[0] > balance[1] && balance[1] > balance[2], r.out());
        assertTrue(r.out().startsWith("deepseek-v3 on dojo-5x5: 14 copies per layer per die fit HBM; target hot-replicate "
                + "with 69 redundant experts"), r.out());
    }

    @Test
    void aLoadFileOfTheWrongShapeForTheModelIsAClearError() throws Exception {
        Path bad = temp.resolve("qwen.json");
        Files.writeString(bad, "{\"logical_count\": [[1, 2, 3], [4, 5, 6]]}");
        Run r = run("--load", bad.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("qwen.json: logical_count is 2 layers x 3 experts, deepseek-v3 has 61 x 256"), r.err());
        Run policy = run("--load", LOAD, "--policy", "lru");
        assertEquals(2, policy.exit());
        assertTrue(policy.err().contains("unknown placement policy 'lru'"), policy.err());
    }
}
