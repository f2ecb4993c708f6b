package io.expertcast.core.placement;

/**
 * The initial, EP-like placement every policy starts from: each die holds one contiguous block of
 * expert ids (as SGLang's default contiguous expert-parallel placement), block sizes differing by at
 * most one expert. Shared by the allocator and the emulator so both see the same table.
 */
public final class EvenPlacement {
    private EvenPlacement() {
    }

    /** Home die of {@code expert} when {@code numExperts} experts are spread over {@code dies} dies. */
    public static int homeDie(int expert, int numExperts, int dies) {
        if (expert < 0 || expert >= numExperts) {
            throw new IllegalArgumentException("expert " + expert + " out of range 0.." + (numExperts - 1));
        }
        return (int) ((long) expert * dies / numExperts);
    }
}
