package io.expertcast.core.wafer;

/**
 * What one policy achieved over many passes: the running sums the service keeps per model/policy and
 * the offline simulation keeps in memory. Throughput is total decode tokens over total MoE time (each
 * pass's MoE time = sum over layers of the slowest die), the paper's comparison metric.
 *
 * @param meanDieNs    sum over passes and layers of the mean die time; die balance = moeNs / meanDieNs
 * @param linkBytes    total bytes over all directed links
 * @param maxPassLinkBytes bytes over the busiest directed link in any single pass (congestion peak)
 * @param boundNs      sum of the passes' lower bounds (0 where unknown: totals read back from moe.wafer-metrics)
 */
public record PolicyTotals(String policy, long passes, long tokens, double moeNs, double meanDieNs, long hops,
                           long reads, long localReads, long remoteReads, long copyReads, long copyWrites,
                           long llcHits, long linkBytes, long maxPassLinkBytes, double boundNs) {

    public static PolicyTotals empty(String policy) {
        return new PolicyTotals(policy, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    /** The totals of a single pass. */
    public static PolicyTotals of(PassResult pass) {
        long total = 0;
        long max = 0;
        for (long b : pass.linkBytes()) {
            total += b;
            max = Math.max(max, b);
        }
        return new PolicyTotals(pass.policy(), 1, pass.tokens(), pass.moeNs(), pass.meanDieNs(), pass.hops(),
                pass.reads(), pass.localReads(), pass.remoteReads(), pass.copyReads(), pass.copyWrites(),
                pass.llcHits(), total, max, pass.boundNs());
    }

    public PolicyTotals plus(PassResult pass) {
        return plus(of(pass));
    }

    /** Sums (the busiest link: the larger of the two peaks). */
    public PolicyTotals plus(PolicyTotals o) {
        if (!policy.equals(o.policy)) {
            throw new IllegalArgumentException("cannot add totals of " + o.policy + " to " + policy);
        }
        return new PolicyTotals(policy, passes + o.passes, tokens + o.tokens, moeNs + o.moeNs,
                meanDieNs + o.meanDieNs, hops + o.hops, reads + o.reads, localReads + o.localReads,
                remoteReads + o.remoteReads, copyReads + o.copyReads, copyWrites + o.copyWrites,
                llcHits + o.llcHits, linkBytes + o.linkBytes, Math.max(maxPassLinkBytes, o.maxPassLinkBytes),
                boundNs + o.boundNs);
    }

    /** Decode tokens per second of MoE time; 0 before any time was spent. */
    public double throughputTokensPerS() {
        return moeNs > 0 ? tokens / (moeNs * 1e-9) : 0;
    }

    /** MoE time over the sum of the passes' lower bounds (>= 1; 0 when no bound is known). */
    public double timeOverBound() {
        return boundNs > 0 ? moeNs / boundNs : 0;
    }

    /** LLC hits over all weight reads. */
    public double llcHitRate() {
        return reads > 0 ? llcHits / (double) reads : 0;
    }

    /** Slowest die over mean die, averaged the way the time is summed (1 = perfectly balanced). */
    public double dieBalance() {
        return meanDieNs > 0 ? moeNs / meanDieNs : 0;
    }
}
