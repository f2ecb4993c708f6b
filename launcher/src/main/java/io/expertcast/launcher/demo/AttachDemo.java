package io.expertcast.launcher.demo;

import io.expertcast.attach.sglang.SglangAttach;
import io.expertcast.attach.standin.RecorderStandIn;
import io.expertcast.attach.standin.SimulatedEngine;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * demo --attach-standin: instead of replaying trace files, {@code attach sglang} follows a local
 * stand-in of an SGLang server's expert distribution recorder (DeepSeek-V3-shaped, made-up expert
 * picks) while the stand-in's engine runs passes; the predictor, allocator and emulator take the
 * published selections as they would a real server's. The stand-in is not SGLang.
 */
final class AttachDemo {
    private AttachDemo() {
    }

    /** Runs the stand-in and attach to the end of the passes; returns attach's counters. */
    static SglangAttach.Stats run(String bootstrap, java.util.Map<String, Object> client, Path work, int passes, double passesPerSecond, double intervalS,
                                  PrintStream out) throws Exception {
        SimulatedEngine engine = new SimulatedEngine(SimulatedEngine.Shape.deepseek(8), 17);
        Path dumps = work.resolve("standin-dumps");
        try (RecorderStandIn standIn = RecorderStandIn.start(engine, dumps, RecorderStandIn.Mode.PER_TOKEN, 1, 0)) {
            out.println("recorder stand-in (NOT SGLang: a made-up DeepSeek-V3-shaped engine, no model runs) on "
                    + standIn.url() + ", dumps in " + dumps);
            String source = "standin@127.0.0.1:" + standIn.port();
            SglangAttach.Options options = new SglangAttach.Options(standIn.url(), dumps, "per_token",
                    Math.round(intervalS * 1000), bootstrap, source, "deepseek-v3", 200, 5_000).withClientProperties(client);
            AtomicBoolean stop = new AtomicBoolean();
            try (SglangAttach attach = new SglangAttach(options, out, System.err)) {
                Thread service = new Thread(() -> attach.run(stop), "attach-sglang");
                service.start();
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (!standIn.recording() && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                long start = System.nanoTime();
                for (int i = 0; i < passes; i++) {
                    standIn.run(1);
                    long due = start + (long) ((i + 1) * 1e9 / passesPerSecond);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                }
                stop.set(true); // a last dump, the recorder stopped, open requests ended
                service.join(60_000);
                return attach.stats();
            }
        }
    }
}
