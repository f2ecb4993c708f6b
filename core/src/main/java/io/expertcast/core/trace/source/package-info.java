/**
 * Where requests come from, Kafka-free: a dataset folder, a JSON-lines file, or the calibrated
 * synthetic generator. The replayer, {@code simulate} and the benchmarks read requests through these.
 */
package io.expertcast.core.trace.source;
