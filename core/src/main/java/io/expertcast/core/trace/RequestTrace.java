package io.expertcast.core.trace;

import io.expertcast.core.model.ModelShape;
import java.util.List;

/**
 * One request's expert selections: step 0 is prefill (any number of tokens), steps 1.. are decode
 * steps of one token each. Each step's ids are packed [token][moe layer][k] (MoE layers only, in
 * model order).
 *
 * @param requestId {@code <model id>/<benchmark>/<subject>/<query index>}
 * @param language  {@code zh} for mmlu_ZH_CN and Chinese-SimpleQA, else {@code en}
 * @param steps     per step the packed expert ids; {@code steps.get(s).length = tokens(s) x layers x k}
 */
public record RequestTrace(ModelShape model, String requestId, String benchmark, String subject, String language,
                           List<int[]> steps) {

    public RequestTrace {
        int perToken = model.numMoeLayers() * model.topK();
        for (int s = 0; s < steps.size(); s++) {
            int[] ids = steps.get(s);
            if (ids.length == 0 || ids.length % perToken != 0) {
                throw new IllegalArgumentException(requestId + ": step " + s + " has " + ids.length
                        + " ids, not a positive multiple of layers x k = " + perToken);
            }
            if (s > 0 && ids.length != perToken) {
                throw new IllegalArgumentException(requestId + ": decode step " + s + " must have one token");
            }
        }
        steps = List.copyOf(steps);
    }

    public int numSteps() {
        return steps.size();
    }

    public int numDecodeSteps() {
        return Math.max(0, steps.size() - 1);
    }

    public int tokens(int step) {
        return steps.get(step).length / (model.numMoeLayers() * model.topK());
    }

    public int prefillTokens() {
        return steps.isEmpty() ? 0 : tokens(0);
    }

    /** Expert id picked by {@code token} of {@code step} at MoE layer {@code moeLayer}, slot {@code slot}. */
    public int expert(int step, int token, int moeLayer, int slot) {
        return steps.get(step)[(token * model.numMoeLayers() + moeLayer) * model.topK() + slot];
    }
}
