package io.expertcast.core.wafer;

/** What a policy decided for one MoE layer: tokens of each expert computed on each die. */
public final class LayerWork {
    private final int[][] tokens; // [die][expert]

    public LayerWork(int dies, int experts) {
        this.tokens = new int[dies][experts];
    }

    public void add(int die, int expert, int count) {
        tokens[die][expert] += count;
    }

    public int tokens(int die, int expert) {
        return tokens[die][expert];
    }

    public int dies() {
        return tokens.length;
    }

    public int experts() {
        return tokens[0].length;
    }
}
