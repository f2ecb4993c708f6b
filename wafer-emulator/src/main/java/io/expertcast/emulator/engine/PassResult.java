package io.expertcast.emulator.engine;

/**
 * What one pass cost under one policy.
 *
 * @param layerNs     per MoE layer, the slowest die's time
 * @param hops        sum of Manhattan distances of remote expert-weight reads
 * @param localReads  (die, expert, layer) weight reads served from the die's own HBM
 * @param remoteReads (die, expert, layer) weight reads over the mesh
 */
public record PassResult(String policy, int tokens, double[] layerNs, long hops, long localReads, long remoteReads) {
    public double moeNs() {
        double sum = 0;
        for (double ns : layerNs) {
            sum += ns;
        }
        return sum;
    }
}
