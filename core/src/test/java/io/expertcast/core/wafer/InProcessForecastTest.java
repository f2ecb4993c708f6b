package io.expertcast.core.wafer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.expertcast.core.model.ModelShape;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The forecast shapes' copy-enable sets on a tiny model, worked out by hand. */
class InProcessForecastTest {
    // 2 MoE layers, 6 experts, top-1: a token is {layer-0 expert, layer-1 expert}.
    private static final ModelShape TINY = new ModelShape("tiny", 2, new int[] {0, 1}, 6, 1, 8, 8, 1.0);

    /** Layer 0: 0 -> 1 (3x), 0 -> 2 (2x), 0 -> 3 (1x), 4 -> 5 (1x); layer 1: 1 -> 0 (2x). */
    private static InProcessForecast taught(PrefetchShape shape) {
        InProcessForecast f = new InProcessForecast(TINY, shape, 2);
        for (int[] t : new int[][] {{0, 0, 1}, {0, 0, 1}, {0, 0, 1}, {0, 0, 2}, {0, 0, 2}, {0, 0, 3}, {0, 4, 5},
                {1, 1, 0}, {1, 1, 0}}) {
            f.heatmap().observe(t[0], t[1], t[2]);
        }
        return f;
    }

    /** Requests a and b, one token each: a selects {a0, a1}, b {b0, b1}. */
    private static PassWorkload pass(long id, int a0, int a1, int b0, int b1) {
        return new PassWorkload(TINY, id, 2, new int[] {a0, a1, b0, b1});
    }

    private static List<InProcessForecast.Entry> entries(int step) {
        return List.of(new InProcessForecast.Entry("a", step, 0, 1, false),
                new InProcessForecast.Entry("b", step, 1, 1, false));
    }

    private static boolean[][] enabled(CopyEnable c) {
        boolean[][] out = new boolean[c.moeLayers()][c.experts()];
        for (int l = 0; l < out.length; l++) {
            for (int e = 0; e < out[l].length; e++) {
                out[l][e] = c.any(l, e);
                assertEquals(c.any(l, e), c.toHbm(l, e), "token-level forecasts copy into HBM");
                assertEquals(false, c.toLlc(l, e));
            }
        }
        return out;
    }

    private static void assertSet(boolean[][] expected, CopyEnable actual) {
        boolean[][] got = enabled(actual);
        for (int l = 0; l < expected.length; l++) {
            assertEquals(java.util.Arrays.toString(expected[l]), java.util.Arrays.toString(got[l]), "layer " + l);
        }
    }

    // The previous pass selected 0 and 4 at layer 0, 1 at layer 1. With n = 2: layer 0 = top-2 of row 0
    // {1, 2} (3 is the third successor, cut) union top-2 of row 4 {5}; layer 1 = top-2 of row 1 {0}.
    private static final boolean[][] UNION_OF_FIRST_PASS = {
        {false, true, true, false, false, true},
        {true, false, false, false, false, false}};
    private static final boolean[][] NONE = new boolean[2][6];

    @Test
    void perPassMarksTheUnionOfTheTopNSuccessorsOfThePreviousPasssExperts() {
        InProcessForecast f = taught(PrefetchShape.PER_PASS);
        PassWorkload first = pass(0, 0, 1, 4, 1);
        assertSet(NONE, f.copyEnable(first, entries(0))); // no previous pass: no command yet
        f.learn(first, entries(0));
        // The next pass selects other experts: its set is the previous pass's forecast, not its own.
        PassWorkload second = pass(1, 2, 3, 5, 3);
        assertSet(UNION_OF_FIRST_PASS, f.copyEnable(second, entries(1)));
        // One command, 4 ids of 4 bytes (id + score, uint16 each) and 2 layer headers of 4 bytes.
        f.learn(second, entries(1));
        InProcessForecast.CommandTotals t = f.totals();
        assertEquals(2, t.passes());
        assertEquals(4, t.enabledCells());
        assertEquals(1, t.commands(), "the second pass's experts (2, 5; 3) have no row yet: an empty union sends nothing");
    }

    @Test
    void perDieMarksWhatPerPassMarks() {
        InProcessForecast f = taught(PrefetchShape.PER_DIE);
        PassWorkload first = pass(0, 0, 1, 4, 1);
        f.copyEnable(first, entries(0));
        f.learn(first, entries(0));
        assertSet(UNION_OF_FIRST_PASS, f.copyEnable(pass(1, 2, 3, 5, 3), entries(1)));
    }

    @Test
    void onWaferMarksThisPasssOwnForecastAndPerPassWeighsItsCommand() {
        InProcessForecast f = taught(PrefetchShape.ON_WAFER);
        PassWorkload first = pass(0, 0, 1, 4, 1);
        assertSet(UNION_OF_FIRST_PASS, f.copyEnable(first, entries(0)));
        f.learn(first, entries(0));
        assertEquals(0, f.totals().commands(), "no command travels");

        InProcessForecast p = taught(PrefetchShape.PER_PASS);
        p.copyEnable(first, entries(0));
        p.learn(first, entries(0));
        assertEquals(4 * InProcessForecast.BYTES_PER_ID + 2 * InProcessForecast.BYTES_PER_LAYER_HEADER,
                p.totals().payloadBytes());
    }

    @Test
    void aPerRequestCommandServesOnlyItsRequestsNextStep() {
        InProcessForecast f = taught(PrefetchShape.PER_REQUEST);
        PassWorkload first = pass(0, 0, 1, 4, 1);
        assertSet(NONE, f.copyEnable(first, entries(0)));
        f.learn(first, entries(0));
        // Two commands of 2 layers x n = 2 ids, made for step 1.
        assertEquals(2, f.totals().commands());
        assertEquals(2 * 2 * 2 * InProcessForecast.BYTES_PER_ID, f.totals().payloadBytes());
        // A pass holding neither request's step 1 (a new request c, and a at step 2): nothing applies.
        PassWorkload other = pass(1, 2, 3, 5, 3);
        assertSet(NONE, f.copyEnable(other, List.of(new InProcessForecast.Entry("c", 0, 0, 1, false),
                new InProcessForecast.Entry("a", 2, 1, 1, false))));
        // a's step 1: its command, the blended top-2 after its token {0, 1} (no finished request: no popularity).
        // Layer 0: own history 0.45 x 1 on expert 0; heat 0.45 x row 0 = 1: 0.225, 2: 0.15, 3: 0.075 -> {0, 1}.
        // Layer 1: own 0.45 on expert 1; heat 0.45 x row 1 = 0: 0.45 -> a tie, both kept -> {0, 1}.
        CopyEnable c = f.copyEnable(other, List.of(new InProcessForecast.Entry("a", 1, 0, 1, false)));
        assertSet(new boolean[][] {{true, true, false, false, false, false}, {true, true, false, false, false, false}}, c);
    }


    @Test
    void perPassBlendedMarksTheUnionOfThePreviousPasssPerRequestCommandsForTheNextPass() {
        InProcessForecast f = taught(PrefetchShape.PER_PASS_BLENDED);
        PassWorkload first = pass(0, 0, 1, 4, 1);
        f.learn(first, entries(0));
        // a's command as above: {0, 1} at both layers. b after {4, 1}: layer 0 own 0.45 on 4, heat 0.45 x row 4 =
        // 5: 0.45 -> {4, 5}; layer 1 as a's -> {0, 1}. One command naming 6 ids over 2 layers, whatever the
        // next pass holds.
        CopyEnable c = f.copyEnable(pass(1, 2, 3, 5, 3), List.of(new InProcessForecast.Entry("c", 0, 0, 1, false),
                new InProcessForecast.Entry("d", 0, 1, 1, false)));
        assertSet(new boolean[][] {{true, true, false, false, true, true}, {true, true, false, false, false, false}}, c);
        assertEquals(1, f.totals().commands());
        assertEquals(6 * InProcessForecast.BYTES_PER_ID + 2 * InProcessForecast.BYTES_PER_LAYER_HEADER,
                f.totals().payloadBytes());
    }
}
