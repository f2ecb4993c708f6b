import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.core.predict.*;
import io.expertcast.core.synth.SyntheticCalibration;
import io.expertcast.core.synth.SyntheticTraceGenerator;
import io.expertcast.core.trace.RequestTrace;
import java.lang.management.ManagementFactory;
import java.util.*;

/**
 * Thread CPU of the live predictor's next-token arithmetic per DeepSeek-V3 decode event ({@code observe} of the
 * step into the request's history + {@code NextTokenPredictor.predict}, n = 8), a batch of requests in flight
 * in turn (default 256, as {@code bench predictor}; 1 for one history kept in cache), rows and popularity
 * learned from 200 calibrated synthetic requests. Uses only core's public API, so the same file compiles
 * against any version of core's jar: compile it against two and run them alternately (see
 * docs/realtime-forecasting.md). Arguments: rounds of 30,000 events (default 5), batch.
 */
public class Harness {
    public static void main(String[] args) {
        ModelShape model = ModelCatalog.DEEPSEEK_V3;
        int layers = model.numMoeLayers(), experts = model.numExperts(), k = model.topK();
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 256, learned = 200;
        SyntheticTraceGenerator gen = new SyntheticTraceGenerator(model, SyntheticCalibration.of(model), 11);
        Iterator<RequestTrace> it = gen.requests(learned + batch);
        TransitionHeatmap table = new TransitionHeatmap(layers, experts);
        double[][] counts = new double[layers][experts];
        for (int r = 0; r < learned; r++) {
            RequestTrace req = it.next();
            int[] prev = null; int prevAt = 0;
            for (int s = 0; s < req.numSteps(); s++) {
                int[] ids = req.steps().get(s);
                for (int t = 0; t < req.tokens(s); t++) {
                    int at = t * layers * k;
                    if (prev != null) table.observeToken(prev, prevAt, ids, at, k);
                    for (int i = 0; i < layers * k; i++) counts[i / k][ids[at + i]]++;
                    prev = ids; prevAt = at;
                }
            }
        }
        TransitionRows[] rows = new TransitionRows[layers];
        LayerPopularity[] pop = new LayerPopularity[layers];
        for (int l = 0; l < layers; l++) { rows[l] = TransitionRows.of(table, l); pop[l] = new LayerPopularity(counts[l]); }
        RequestTrace[] reqs = new RequestTrace[batch];
        RequestHistory[] hist = new RequestHistory[batch];
        int[] step = new int[batch];
        for (int b = 0; b < batch; b++) {
            reqs[b] = it.next();
            hist[b] = new RequestHistory(layers, experts, k);
            int[] prefill = reqs[b].steps().get(0);
            for (int t = 0; t < reqs[b].prefillTokens(); t++) hist[b].observe(prefill, t * layers * k);
            step[b] = 1;
        }
        int[][][] steps = new int[batch][][];
        for (int b = 0; b < batch; b++) {
            steps[b] = new int[reqs[b].numSteps()][];
            for (int s = 1; s < steps[b].length; s++) steps[b][s] = reqs[b].steps().get(s).clone();
        }
        NextTokenPredictor p = new NextTokenPredictor(layers, experts, k);
        int[][] out = new int[layers][8];
        double[][] sc = new double[layers][8];
        var mx = ManagementFactory.getThreadMXBean();
        long checksum = 0;
        int rounds = Integer.parseInt(args.length > 0 ? args[0] : "5"), perRound = 30000;
        for (int round = 0; round < rounds; round++) {
            long cpu0 = mx.getCurrentThreadCpuTime(), observeCpu = 0;
            for (int e = 0; e < perRound; e++) {
                int b = e % batch;
                if (step[b] >= steps[b].length) step[b] = 1;
                int[] ids = steps[b][step[b]++];
                hist[b].observe(ids, 0);
                p.predict(rows, pop, hist[b], ids, 8, out, sc);
                checksum += out[e % layers][0];
            }
            long cpu = mx.getCurrentThreadCpuTime() - cpu0;
            System.out.printf(Locale.ROOT, "round %d: %.1f us of thread CPU per event (observe + predict)%n", round, cpu / 1e3 / perRound);
        }
        System.out.println("checksum " + checksum);
    }
}
