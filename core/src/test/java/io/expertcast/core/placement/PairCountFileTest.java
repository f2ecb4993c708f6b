package io.expertcast.core.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.trace.RequestTrace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PairCountFileTest {
    /** 3 layers, MoE at 1 and 2, 4 experts, top-2. */
    static final ModelShape MODEL = new ModelShape("pairs", 3, new int[] {1, 2}, 4, 2, 8, 8, 1.0);

    @TempDir
    Path temp;

    @Test
    void countsEachTokensPairsPerModelLayerAndSurvivesTheFile() throws IOException {
        // Prefill: one token; decode: two tokens. Ids [token][moe layer][k].
        RequestTrace r = new RequestTrace(MODEL, "r", "b", "s", "en", List.of(
                new int[] {0, 1, 2, 3},
                new int[] {0, 1, 3, 2},
                new int[] {1, 0, 2, 3}));
        PairCountFile decode = PairCountFile.empty(MODEL);
        decode.add(r, true);
        assertEquals(2, decode.matrix(1)[0][1], "layer 1: (0,1) twice");
        assertEquals(2, decode.matrix(1)[1][0]);
        assertEquals(2, decode.matrix(2)[2][3]);
        assertEquals(0, decode.matrix(0)[0][1], "a dense layer has no pairs");
        PairCountFile prefill = PairCountFile.empty(MODEL);
        prefill.add(r, false);
        assertEquals(1, prefill.matrix(1)[0][1]);
        Path file = temp.resolve("p.json");
        decode.write(file);
        PairCountFile back = PairCountFile.read(file, 3, 4, "pairs");
        for (int l = 0; l < 3; l++) {
            for (int i = 0; i < 4; i++) {
                assertEquals(java.util.Arrays.toString(decode.matrix(l)[i]), java.util.Arrays.toString(back.matrix(l)[i]));
            }
        }
    }

    @Test
    void aFileOfTheWrongShapeModelOrTriplesIsRejectedNamingTheFile() throws IOException {
        Path file = temp.resolve("p.json");
        PairCountFile.empty(MODEL).write(file);
        assertTrue(assertThrows(IOException.class, () -> PairCountFile.read(file, 61, 4, null)).getMessage()
                .contains("p.json: pair counts for 3 layers x 4 experts (pairs), the load has 61 x 4"));
        assertTrue(assertThrows(IOException.class, () -> PairCountFile.read(file, 3, 4, "other")).getMessage()
                .contains("pair counts of model pairs, placing other"));
        Files.writeString(file, "{\"model\": \"pairs\", \"num_layers\": 3, \"num_experts\": 4, \"pair_count\": [[], [[0, 9, 1]], []]}");
        assertTrue(assertThrows(IOException.class, () -> PairCountFile.read(file, 3, 4, null)).getMessage()
                .contains("pair_count[1] holds [0,9,1]"));
        Files.writeString(file, "{\"model\": \"pairs\", \"num_layers\": 3, \"num_experts\": 4, \"pair_count\": [[], [[0, 1]], []]}");
        assertTrue(assertThrows(IOException.class, () -> PairCountFile.read(file, 3, 4, null)).getMessage()
                .contains("expected [i, j, count]"));
        Files.writeString(file, "{\"pair_count\": ");
        assertTrue(assertThrows(IOException.class, () -> PairCountFile.read(file, 3, 4, null)).getMessage()
                .contains("malformed JSON"));
    }
}
