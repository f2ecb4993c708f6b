/**
 * Insight 1 of the paper (prefill-driven prediction, paper-notes.md Ob3): a request's prefill
 * heatmap predicts which experts its decode steps select. The offline evaluator and the Kafka Streams
 * predictor share these classes, so both report the same recall on the same trace.
 */
package io.expertcast.core.predict;
