/**
 * The wafer, Kafka-free: the event-driven engine that times a forward pass on the die mesh
 * ({@link io.expertcast.core.wafer.WaferEngine}, {@link io.expertcast.core.wafer.EventQueue}, the
 * per-die {@link io.expertcast.core.wafer.ExpertLru}), the policies it compares (expert parallel,
 * copy on read, the controller's plan), prefetch counts, and the in-process planner the offline
 * {@code simulate} uses. The emulator's Streams processors, {@code simulate} and the benchmarks all
 * call this package.
 */
package io.expertcast.core.wafer;
