package io.expertcast.emulator.engine;

/**
 * What one policy achieved over many passes: the running sums the service keeps per model/policy and
 * the offline simulation of the emulator issue can keep in memory. Throughput is total tokens over
 * total MoE time (each pass's MoE time = sum over layers of the slowest die), the paper's comparison
 * metric for Base, EP and Allo.
 */
public record PolicyTotals(String policy, long passes, long tokens, double moeNs, long hops, long localReads,
                           long remoteReads) {

    public static PolicyTotals empty(String policy) {
        return new PolicyTotals(policy, 0, 0, 0, 0, 0, 0);
    }

    /** The totals of a single pass. */
    public static PolicyTotals of(PassResult pass) {
        return new PolicyTotals(pass.policy(), 1, pass.tokens(), pass.moeNs(), pass.hops(), pass.localReads(),
                pass.remoteReads());
    }

    public PolicyTotals plus(PassResult pass) {
        return plus(of(pass));
    }

    public PolicyTotals plus(PolicyTotals other) {
        if (!policy.equals(other.policy)) {
            throw new IllegalArgumentException("cannot add totals of " + other.policy + " to " + policy);
        }
        return new PolicyTotals(policy, passes + other.passes, tokens + other.tokens, moeNs + other.moeNs,
                hops + other.hops, localReads + other.localReads, remoteReads + other.remoteReads);
    }

    /** Tokens per second of MoE time; 0 before any time was spent. */
    public double throughputTokensPerS() {
        return moeNs > 0 ? tokens / (moeNs * 1e-9) : 0;
    }
}
