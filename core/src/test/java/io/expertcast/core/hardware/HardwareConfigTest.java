package io.expertcast.core.hardware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HardwareConfigTest {

    @Test
    void presetsMatchTableI() {
        HardwareConfig dojo = HardwareConfig.load("dojo-5x5");
        assertEquals(25, dojo.dies());
        assertEquals(989e12, dojo.peakFlopsPerS());
        assertEquals(1.7e12, dojo.linkBytesPerS());
        assertEquals(200, dojo.hopLatencyNs());
        assertEquals(24, HardwareConfig.load("tsmc-sow-8x3").dies());
        HardwareConfig enhanced = HardwareConfig.load("dojo-enhanced");
        assertEquals(4500e12, enhanced.peakFlopsPerS());
        assertEquals(180e9, enhanced.hbmBytes());
        assertEquals(72e9, dojo.usableHbmBytes());
    }

    @Test
    void rejectsADieCountThatDoesNotMatchTheMesh(@TempDir Path dir) throws Exception {
        Properties p = presetProperties();
        p.setProperty("dies", "24");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HardwareConfig.fromProperties("x", p))
                .getMessage().contains("does not match"));
    }

    @Test
    void rejectsZeroOrNegativeBandwidth() throws Exception {
        Properties p = presetProperties();
        p.setProperty("link_bytes_per_s", "0");
        assertThrows(IllegalArgumentException.class, () -> HardwareConfig.fromProperties("x", p));
        p.setProperty("link_bytes_per_s", "-1e12");
        assertThrows(IllegalArgumentException.class, () -> HardwareConfig.fromProperties("x", p));
    }

    @Test
    void loadsACustomMeshFromAFile(@TempDir Path dir) throws Exception {
        Properties p = presetProperties();
        p.setProperty("rows", "2");
        p.setProperty("cols", "3");
        p.setProperty("dies", "6");
        Path file = dir.resolve("mini.properties");
        try (var out = Files.newBufferedWriter(file)) {
            p.store(out, null);
        }
        HardwareConfig mini = HardwareConfig.load(file.toString());
        assertEquals(6, mini.dies());
        assertThrows(IllegalArgumentException.class, () -> HardwareConfig.load(dir.resolve("none").toString()));
    }

    @Test
    void meshRoutesXyAndCountsManhattanHops() {
        Mesh mesh = new Mesh(3, 4);
        assertEquals(5, mesh.hops(0, 11));
        assertEquals(List.of(0, 1, 2, 3, 7, 11), mesh.xyRoute(0, 11));
        assertEquals(List.of(1, 4), mesh.neighbours(0).stream().sorted().toList());
        assertEquals(4, mesh.neighbours(5).size());
    }

    @Test
    void costModelIsARooflinePlusHopLatencyAndLinkTime() {
        DieCostModel cost = new DieCostModel(HardwareConfig.load("dojo-5x5"));
        var ds = ModelCatalog.DEEPSEEK_V3;
        double memoryNs = ds.expertBytes() / 3.35e12 * 1e9;
        assertEquals(memoryNs, cost.computeNs(ds, 1), 1e-6); // one token: memory bound
        double flopsNs = ds.flopsPerToken() * 4096 / 989e12 * 1e9;
        assertEquals(flopsNs, cost.computeNs(ds, 4096), 1e-6); // many tokens: compute bound
        assertEquals(0, cost.weightTransferNs(ds, 0));
        assertEquals(2 * 200 + ds.expertBytes() / 1.7e12 * 1e9, cost.weightTransferNs(ds, 2), 1e-6);
    }

    private static Properties presetProperties() throws Exception {
        Properties p = new Properties();
        try (var in = HardwareConfig.class.getResourceAsStream("dojo-5x5.properties")) {
            p.load(in);
        }
        return p;
    }
}
