/**
 * The paper's forecasting, Kafka-free: what the live predictor ({@code stream-predictor}), the offline
 * {@code evaluate-predictor} ({@link io.expertcast.core.predict.PredictorEvaluation}) and the benchmarks all
 * call, so they report the same predictions on the same trace.
 * <ul>
 *   <li>Insight 1, a request predicts itself (Ob3: its prefill predicts its decode; Ob1: it keeps reusing its
 *       experts): {@link io.expertcast.core.predict.PrefillHeatmap} (prefill counts),
 *       {@link io.expertcast.core.predict.DecodePlanner} (the prefill-only decode plan),
 *       {@link io.expertcast.core.predict.RequestHistory} (the request's own, decayed selections) and
 *       {@link io.expertcast.core.predict.BlendedPredictor#decodePlanScores} (the blended decode plan).</li>
 *   <li>Insight 2, transitions concentrate (Ob2: token->token and layer->layer):
 *       {@link io.expertcast.core.predict.TransitionHeatmap} (the counts, with decay),
 *       {@link io.expertcast.core.predict.TransitionRows} (each row's top successors, as the forecast reads
 *       them).</li>
 *   <li>Both together, per decode step: {@link io.expertcast.core.predict.BlendedPredictor#nextTokenScores}
 *       (the formula) and {@link io.expertcast.core.predict.NextTokenPredictor} (the same, at stream speed);
 *       {@link io.expertcast.core.predict.StepScores} scores a prediction when its step arrives.</li>
 * </ul>
 */
package io.expertcast.core.predict;
