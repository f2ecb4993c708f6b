// Cost of the stream allocator's pair counting (docs/allocator-cost-model.md section 4): per DeepSeek-V3 pass of
// uniformly spread tokens, the planning thread's copy of the carried ids (PairObservations.of) and the model
// task's counting of 58 layers into DecayedPairCounts (as PairCountKeeper does). Package-private parts by reflection.
import io.expertcast.core.model.*;
import io.expertcast.core.placement.*;
import io.expertcast.schemas.*;
import io.expertcast.streams.pass.CompletedPass;
import java.nio.ByteBuffer;
import java.util.*;
import java.lang.reflect.*;
ModelShape m = ModelCatalog.DEEPSEEK_V3;
int L = m.numMoeLayers(), K = m.topK(), E = m.numExperts();
Class<?> po = Class.forName("io.expertcast.allocator.PairObservations");
Method of = po.getDeclaredMethod("of", ModelShape.class, CompletedPass.class); of.setAccessible(true);
Method count = po.getDeclaredMethod("count", PairObservation.class, int.class, CoActivation.class, int[].class); count.setAccessible(true);
var serde = SerdeFactory.defaultFactory().serde(PairObservation.class);
DecayedPairCounts dpc = new DecayedPairCounts(L, E, 0.999);
CoActivation c = new CoActivation(E);
int[] scratch = new int[K]; int[] cells = new int[40000]; long[] cnt = new long[40000];
void keep(PairObservation o) throws Exception {
  for (int l = 0; l < L; l++) { count.invoke(null, o, l, c, scratch); int n = c.distinctPairs(); for (int p = 0; p < n; p++) { cells[p] = c.cell(p); cnt[p] = c.count(cells[p]) * o.getWeight(); } dpc.observe(l, cells, cnt, n); }
}
for (int tokens : new int[]{16, 64, 256, 4096, 16384}) {
  Random r = new Random(tokens);
  int[] ids = new int[tokens * L * K];
  for (int t = 0; t < tokens; t++) for (int l = 0; l < L; l++) { int[] tk = r.ints(0, E).distinct().limit(K).toArray(); for (int s = 0; s < K; s++) ids[ExpertIds.index(t, l, s, L, K)] = tk[s]; }
  SelectionEvent ev = SelectionEvent.newBuilder().setModel(m.id()).setRequestId("r").setStep(0).setPhase(Phase.DECODE).setTokenOffset(0).setTokenCount(tokens).setPassId(0L).setBatchTokenOffset(0).setNumMoeLayers(L).setTopK(K).setExpertIds(ByteBuffer.wrap(ExpertIds.pack(ids))).setEventTimeMs(0L).build();
  CompletedPass cp = new CompletedPass(new ForwardPass(m.id(), 0L, List.of(new PassEntry("r", 0, tokens)), tokens, 0, 0L, ""), List.of(ev), List.of());
  int reps = 200;
  Object o = null;
  for (int w = 0; w < reps; w++) o = of.invoke(null, m, cp);
  long t0 = System.nanoTime();
  for (int w = 0; w < reps; w++) o = of.invoke(null, m, cp);
  double usOf = (System.nanoTime() - t0) / 1e3 / reps;
  PairObservation obs = ((Optional<PairObservation>) o).orElseThrow();
  for (int w = 0; w < 20; w++) keep(obs);
  t0 = System.nanoTime();
  for (int w = 0; w < 50; w++) keep(obs);
  double usKeep = (System.nanoTime() - t0) / 1e3 / 50;
  System.out.printf(Locale.ROOT, "tokens %5d: planning thread %6.1f us per pass (copy of %d tokens' ids), record %.1f KB; model task %6.0f us per pass (count 58 layers + decay)%n", tokens, usOf, obs.getTokens(), serde.serializer().serialize("t", obs).length / 1024.0, usKeep);
}
/exit
