package io.expertcast.launcher.scaleout;

import io.expertcast.launcher.demo.PipelineStages;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * One instance of each stage (predictor, allocator, emulator) in a JVM of its own, for
 * {@link ScaleOutTest} to kill -9: args are bootstrap, state dir, application prefix, the instance's name (application.server).
 * Prints {@code RUNNING} once all three run; runs until killed.
 */
public final class StageInstance {
    private StageInstance() {
    }

    public static void main(String[] args) throws Exception {
        PipelineStages stages = PipelineStages.start(args[0], Path.of(args[1]), args[2], ScaleOutTest.overrides(args[3]));
        stages.awaitRunning(Duration.ofMinutes(5));
        System.out.println("RUNNING");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
