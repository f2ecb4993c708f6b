/**
 * SGLang's expert-distribution recorder dumps, Kafka-free: reading {@code torch.save} files
 * ({@link io.expertcast.core.sglang.RecorderDump}, {@link io.expertcast.core.sglang.Tensor}), the
 * per_token passes and how a chunk is placed on a request ({@link io.expertcast.core.sglang.PerTokenPasses}),
 * shared by import-sglang's {@link io.expertcast.core.sglang.PerTokenSplitter} and the live attach's splitter.
 */
package io.expertcast.core.sglang;
