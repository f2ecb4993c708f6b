package io.expertcast.core.wafer;

/**
 * What one pass cost under one policy (decode tokens only).
 *
 * @param layerNs     per MoE layer, the slowest die's time
 * @param meanDieNs   sum over MoE layers of the mean die time (idle dies count 0): with
 *                    {@link #moeNs()} it gives the die load balance
 * @param hops        sum of Manhattan distances of remote expert-weight reads
 * @param reads       (die, expert, layer) weight reads, all sources
 * @param localReads  reads served from the die's own HBM as a home (or table) copy
 * @param remoteReads reads over the mesh
 * @param copyReads   reads served from a copy the PDU wrote into the die's HBM on an earlier read
 * @param copyWrites  copies written into a die's HBM on a remote read (copy-on-read)
 * @param llcHits     reads served from the die's LLC
 * @param linkBytes   bytes sent over each directed D2D link (index die x 4 + direction E, W, S, N)
 * @param events      events the discrete-event engine processed
 * @param boundNs     sum over MoE layers of the layer's lower bound (core LayerLowerBound): no
 *                    assignment of the pass's tokens could take less MoE time on this wafer
 */
public record PassResult(String policy, int tokens, double[] layerNs, double meanDieNs, long hops, long reads,
                         long localReads, long remoteReads, long copyReads, long copyWrites, long llcHits,
                         long[] linkBytes, long events, double boundNs) {
    public double moeNs() {
        double sum = 0;
        for (double ns : layerNs) {
            sum += ns;
        }
        return sum;
    }
}
