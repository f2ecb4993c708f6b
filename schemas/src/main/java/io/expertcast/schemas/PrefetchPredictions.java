package io.expertcast.schemas;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The prediction inside a {@link PrefetchCommand}, whichever version wrote it: v2 packs it
 * ({@code expertsPerLayer} n > 0: {@code packedExperts} [layer][n] uint16 and {@code packedScores} uint16
 * fixed point, ~1.9 KB for DeepSeek-V3's 58 layers x 8), v1 carried it as {@code layers} (one record per
 * layer, float64 scores, ~4.8 KB). Readers call {@link #layers}, {@link #expertCount} and {@link #expert};
 * writers call {@link #pack}.
 */
public final class PrefetchPredictions {
    /** Scores are in [0, 1]; uint16 fixed point keeps them to 1.5e-5. */
    private static final double SCORE_UNIT = 65535;

    private PrefetchPredictions() {
    }

    /** Builds a v2 command's prediction: per layer l, {@code experts[l]} best first with {@code scores[l]}. */
    public static PrefetchCommand.Builder pack(PrefetchCommand.Builder command, int[][] experts, double[][] scores) {
        int layers = experts.length;
        int n = layers == 0 ? 0 : experts[0].length;
        ByteBuffer ids = ByteBuffer.allocate(layers * n * 2).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer packedScores = ByteBuffer.allocate(scores == null ? 0 : layers * n * 2)
                .order(ByteOrder.LITTLE_ENDIAN);
        for (int l = 0; l < layers; l++) {
            if (experts[l].length != n) {
                throw new IllegalArgumentException("layer " + l + " predicts " + experts[l].length + " experts, layer 0 "
                        + n + ": a packed command has one n");
            }
            for (int i = 0; i < n; i++) {
                int id = experts[l][i];
                if (id < 0 || id > 0xFFFF) {
                    throw new IllegalArgumentException("expert id " + id + " does not fit uint16");
                }
                ids.putShort((short) id);
                if (scores != null) {
                    double s = Math.max(0, Math.min(1, scores[l][i]));
                    packedScores.putShort((short) Math.round(s * SCORE_UNIT));
                }
            }
        }
        return command.setLayers(List.of())
                .setExpertsPerLayer(n)
                .setPackedExperts(ids.flip())
                .setPackedScores(packedScores.flip());
    }

    /** MoE layers the command predicts (v2: all of them, 0 .. layers-1; v1: one entry per listed layer). */
    public static int layers(PrefetchCommand command) {
        int n = command.getExpertsPerLayer();
        return n > 0 ? command.getPackedExperts().remaining() / (2 * n) : command.getLayers().size();
    }

    /** The MoE layer of the command's i-th layer entry (v2: i itself). */
    public static int layer(PrefetchCommand command, int i) {
        return command.getExpertsPerLayer() > 0 ? i : command.getLayers().get(i).getLayer();
    }

    /** How many experts the i-th layer entry predicts. */
    public static int expertCount(PrefetchCommand command, int i) {
        int n = command.getExpertsPerLayer();
        return n > 0 ? n : command.getLayers().get(i).getExperts().size();
    }

    /** The j-th best expert of the i-th layer entry. */
    public static int expert(PrefetchCommand command, int i, int j) {
        int n = command.getExpertsPerLayer();
        if (n > 0) {
            return uint16(command.getPackedExperts(), i * n + j);
        }
        return command.getLayers().get(i).getExperts().get(j);
    }

    /** The score of the j-th best expert of the i-th layer entry (NaN when the command carries none). */
    public static double score(PrefetchCommand command, int i, int j) {
        int n = command.getExpertsPerLayer();
        if (n > 0) {
            ByteBuffer b = command.getPackedScores();
            if (b.remaining() == 0) {
                return Double.NaN;
            }
            return uint16(b, i * n + j) / SCORE_UNIT;
        }
        List<Double> scores = command.getLayers().get(i).getScores();
        return j < scores.size() ? scores.get(j) : Double.NaN;
    }

    /** The index-th little-endian uint16 after the buffer's position (whatever byte order the buffer has). */
    private static int uint16(ByteBuffer b, int index) {
        int at = b.position() + 2 * index;
        return (b.get(at) & 0xFF) | (b.get(at + 1) & 0xFF) << 8;
    }

    /**
     * Why the packed fields do not hold a whole prediction, or null: ids of whole layers, scores empty or
     * one per id. (v1 commands: null.)
     */
    public static String packingProblem(PrefetchCommand command) {
        int n = command.getExpertsPerLayer();
        if (n < 0) {
            return "experts per layer is negative (" + n + ")";
        }
        if (n == 0) {
            return command.getPackedExperts().remaining() == 0 ? null
                    : "packed experts without experts per layer";
        }
        int bytes = command.getPackedExperts().remaining();
        if (bytes % (2 * n) != 0) {
            return "packed experts of " + bytes + " bytes are not whole layers of " + n + " uint16 ids";
        }
        int scores = command.getPackedScores().remaining();
        if (scores != 0 && scores != bytes) {
            return "packed scores of " + scores + " bytes for " + bytes / 2 + " ids";
        }
        return null;
    }
}
