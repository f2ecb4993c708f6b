package io.expertcast.core.wafer;

/**
 * Decides where each expert's tokens of a layer are computed. A new policy is one new class,
 * registered by name in {@link Policies}.
 */
public interface Policy {
    String name();

    /** The work of {@code moeLayer}; throws {@link InvalidPlanException} when its input is unusable. */
    LayerWork assign(PassWorkload pass, int moeLayer, WaferContext wafer);

    /** Whether remote reads of copy-enabled experts are copied into the reader's HBM or LLC (the PDU's cp_en, {@link CopyEnable}). */
    default boolean copyOnRead() {
        return false;
    }
}
