package io.expertcast.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ModelCatalogTest {
    private final ModelCatalog catalog = ModelCatalog.standard();

    @Test
    void knowsThePaperModelsByDatasetFolder() {
        assertEquals(ModelCatalog.LLAMA4_MAVERICK,
                catalog.byDatasetFolder("meta-llama/Llama-4-Maverick-17B-128E-Instruct").orElseThrow());
        assertEquals(58, catalog.lookup("cognitivecomputations/DeepSeek-R1-AWQ").orElseThrow().numMoeLayers());
        assertEquals(94, catalog.lookup("Qwen/Qwen3-235B-A22B-FP8").orElseThrow().numMoeLayers());
        assertEquals(384, catalog.lookup("moonshotai/Kimi-K2-Thinking").orElseThrow().numExperts());
        assertTrue(catalog.lookup("nobody/unknown").isEmpty());
    }

    @Test
    void llamaHasMoeOnOddLayersOnly() {
        ModelShape llama = ModelCatalog.LLAMA4_MAVERICK;
        assertEquals(24, llama.numMoeLayers());
        assertEquals(1, llama.moeLayer(0));
        assertEquals(47, llama.moeLayer(23));
        assertEquals(-1, llama.moeIndexOf(0));
        assertEquals(0, llama.moeIndexOf(1));
        assertEquals(1, llama.topK());
    }

    @Test
    void deepSeekExpertIs88MegabytesInBf16() {
        // docs/paper-notes.md: 3 x 7168 x 2048 parameters, 88 MB in BF16.
        assertEquals(3L * 7168 * 2048 * 2, ModelCatalog.DEEPSEEK_V3.expertBytes());
        assertEquals(88, ModelCatalog.DEEPSEEK_V3.expertBytes() / 1_000_000);
        assertEquals(44, ModelCatalog.DEEPSEEK_V3.withBytesPerParam(1).expertBytes() / 1_000_000);
    }

    @Test
    void parsesAShapeFromTheCommandLine() {
        ModelShape s = ModelCatalog.parseShape("mini:4:odd:16:2");
        assertArrayEquals(new int[] {1, 3}, s.moeLayers());
        assertEquals(16, s.numExperts());
        assertEquals(2, ModelCatalog.parseShape("m:6:from=2:8:2:64:32").moeLayer(0));
        assertThrows(IllegalArgumentException.class, () -> ModelCatalog.parseShape("bad:4:odd"));
        assertThrows(IllegalArgumentException.class, () -> ModelCatalog.parseShape("k:4:all:4:8"));
    }

    @Test
    void expertIdsRoundTripAsUint16() {
        int[] ids = {0, 1, 255, 256, 383, 65535};
        assertArrayEquals(ids, ExpertIds.unpack(ExpertIds.pack(ids)));
        assertThrows(IllegalArgumentException.class, () -> ExpertIds.pack(new int[] {-1}));
        assertThrows(IllegalArgumentException.class, () -> ExpertIds.unpack(new byte[3]));
        assertEquals(11, ExpertIds.index(1, 2, 1, 3, 2)); // ((1*3)+2)*2+1
    }
}
