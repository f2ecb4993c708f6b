package io.expertcast.core.hardware;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

/**
 * A wafer-scale GPU: a rows x cols mesh of identical dies (paper Table I). Loaded from a
 * properties file; the three presets ship as resources. Units: bytes, bytes/s, FLOP/s, ns.
 */
public record HardwareConfig(
        String name,
        int rows,
        int cols,
        double peakFlopsPerS,
        long hbmBytes,
        double hbmBytesPerS,
        double linkBytesPerS,
        double hopLatencyNs,
        long llcBytes,
        double llcHitNs,
        double llcMissExtraNs,
        double llcWriteNs,
        double hbmAccessNs,
        int commandBytes,
        double dramReservedFraction) {

    /** The presets of paper Table I. */
    public static final List<String> PRESETS = List.of("dojo-5x5", "tsmc-sow-8x3", "dojo-enhanced");

    public HardwareConfig {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException(name + ": mesh must have positive rows and cols, got " + rows + "x" + cols);
        }
        requirePositive(name, "peak_flops_per_s", peakFlopsPerS);
        requirePositive(name, "hbm_bytes", hbmBytes);
        requirePositive(name, "hbm_bytes_per_s", hbmBytesPerS);
        requirePositive(name, "link_bytes_per_s", linkBytesPerS);
        if (hopLatencyNs < 0 || llcBytes < 0 || llcHitNs < 0 || llcMissExtraNs < 0 || llcWriteNs < 0
                || hbmAccessNs < 0 || commandBytes < 0 || dramReservedFraction < 0 || dramReservedFraction >= 1) {
            throw new IllegalArgumentException(name + ": latencies, sizes and the reserved fraction must be >= 0 (fraction < 1)");
        }
    }

    private static void requirePositive(String config, String key, double value) {
        if (!(value > 0)) {
            throw new IllegalArgumentException(config + ": " + key + " must be positive, got " + value);
        }
    }

    public int dies() {
        return rows * cols;
    }

    /** HBM usable for expert weights, after the reserved fraction. */
    public long usableHbmBytes() {
        return (long) (hbmBytes * (1 - dramReservedFraction));
    }

    /** A preset by name, or a properties file by path. */
    public static HardwareConfig load(String presetOrPath) {
        if (PRESETS.contains(presetOrPath)) {
            try (InputStream in = HardwareConfig.class.getResourceAsStream(presetOrPath + ".properties")) {
                Properties p = new Properties();
                p.load(in);
                return fromProperties(presetOrPath, p);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        Path path = Path.of(presetOrPath);
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("unknown hardware config '" + presetOrPath + "': not a preset "
                    + PRESETS + " and not a file");
        }
        try (Reader reader = Files.newBufferedReader(path)) {
            Properties p = new Properties();
            p.load(reader);
            return fromProperties(path.getFileName().toString().replaceFirst("\\.properties$", ""), p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read hardware config " + path, e);
        }
    }

    /** Reads the keys documented in the preset files; a declared {@code dies} must equal rows x cols. */
    public static HardwareConfig fromProperties(String defaultName, Properties p) {
        String name = p.getProperty("name", defaultName);
        int rows = intKey(name, p, "rows");
        int cols = intKey(name, p, "cols");
        if (p.containsKey("dies") && intKey(name, p, "dies") != rows * cols) {
            throw new IllegalArgumentException(name + ": dies=" + p.getProperty("dies") + " does not match the "
                    + rows + "x" + cols + " mesh (" + rows * cols + " dies)");
        }
        return new HardwareConfig(name, rows, cols,
                doubleKey(name, p, "peak_flops_per_s"),
                (long) doubleKey(name, p, "hbm_bytes"),
                doubleKey(name, p, "hbm_bytes_per_s"),
                doubleKey(name, p, "link_bytes_per_s"),
                doubleKey(name, p, "hop_latency_ns"),
                (long) doubleKey(name, p, "llc_bytes"),
                doubleKey(name, p, "llc_hit_ns"),
                doubleKey(name, p, "llc_miss_extra_ns"),
                doubleKey(name, p, "llc_write_ns"),
                doubleKey(name, p, "hbm_access_ns"),
                intKey(name, p, "command_bytes"),
                doubleKey(name, p, "dram_reserved_fraction"));
    }

    private static String required(String config, Properties p, String key) {
        String value = p.getProperty(key);
        if (value == null) {
            throw new IllegalArgumentException(config + ": missing key " + key);
        }
        return value.strip();
    }

    private static int intKey(String config, Properties p, String key) {
        try {
            return Integer.parseInt(required(config, p, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(config + ": " + key + " is not an integer: " + p.getProperty(key));
        }
    }

    private static double doubleKey(String config, Properties p, String key) {
        try {
            return Double.parseDouble(required(config, p, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(config + ": " + key + " is not a number: " + p.getProperty(key));
        }
    }
}
