package io.expertcast.core.wafer;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * What the Pred policies' in-process forecast looks like, so the shapes a live predictor could send can
 * be compared on the same passes ({@link InProcessForecast}). Every shape copies into HBM (token-level
 * forecasts, Insight 2) and reads the same token->token heatmap, learned from the same passes.
 * <ul>
 *   <li>{@link #ON_WAFER}: the paper's predictor running on the wafer's command processor: per MoE layer
 *       the union of the top-n successors of the experts this pass selects, marked for this pass's own
 *       reads (the gate's output is known at each layer before its experts are read). No command
 *       travels. What {@code simulate} always did.</li>
 *   <li>{@link #PER_REQUEST}: the live predictor's NEXT_TOKEN commands: for each (request, step) entry of
 *       a pass, the request's own blended next-token top-n (core/predict's {@code RequestForecaster}),
 *       made from its previous step; a pass marks the union of its entries' commands.</li>
 *   <li>{@link #PER_PASS}: one command per pass, the paper's predictor run by the controller: per MoE
 *       layer the union of the top-n successors of the experts the previous pass selected, marked for
 *       the next pass (a command is made once a pass's selections are out, so it serves the next one).</li>
 *   <li>{@link #PER_PASS_BLENDED}: one command per pass carrying the union of the {@link #PER_REQUEST}
 *       forecasts made from the previous pass (the live predictor's forecasts, sent as one command): the
 *       same copies as per request wherever the next pass holds the same requests, at a union's bytes.</li>
 *   <li>{@link #PER_DIE}: {@link #PER_PASS} cut per die to the experts that die reads remotely: the wafer
 *       copies only on a remote read, so the copies are exactly those of {@link #PER_PASS}; only the
 *       command bytes differ.</li>
 * </ul>
 */
public enum PrefetchShape {
    ON_WAFER("on-wafer"),
    PER_REQUEST("per-request"),
    PER_PASS("per-pass"),
    PER_PASS_BLENDED("per-pass-blended"),
    PER_DIE("per-die");

    private final String label;

    PrefetchShape(String label) {
        this.label = label;
    }

    /** The name used on the command line and in the output. */
    public String label() {
        return label;
    }

    /** The shape of this command-line name. */
    public static PrefetchShape of(String label) {
        return Arrays.stream(values()).filter(s -> s.label.equals(label)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown prefetch shape '" + label + "', known: "
                        + Arrays.stream(values()).map(PrefetchShape::label).collect(Collectors.joining(", "))));
    }

    @Override
    public String toString() {
        return label;
    }
}
