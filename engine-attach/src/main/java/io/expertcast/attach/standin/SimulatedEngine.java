package io.expertcast.attach.standin;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A made-up serving engine for the recorder stand-in: no model runs; it schedules requests the way
 * SGLang's scheduler forms batches (an EXTEND pass admits waiting requests' whole prompts, a DECODE
 * pass feeds one token of every running request, in admission order) and draws each token's experts
 * at random. Each pass comes out as the record SGLang's per_token recorder keeps
 * ({@code _DetailSinglePassGatherer.collect} plus the accumulator's forward_pass_id, rank and
 * gatherer_key), with physical slot ids, layer 0 dense (all -1), the top-k buffer 8 wide padded with
 * -1, and the logical ids it drew as the ground truth.
 */
public final class SimulatedEngine {
    public static final int EXTEND = 1;
    public static final int DECODE = 2;
    public static final int TOPK_WIDTH = 8;

    /** What one request contributed to one pass, in logical ids [token][moe layer][k]. */
    public record Chunk(long request, int step, int tokenOffset, int tokenCount, int[] logicalIds, boolean lastStep) {
    }

    /** One pass: SGLang's record, and the truth. */
    public record Pass(long forwardPassId, int mode, Map<String, Object> record, List<Chunk> chunks) {
    }

    /**
     * The engine's shape and workload.
     *
     * @param layers       all layers
     * @param firstMoe     layers before this one are dense (recorded as -1)
     * @param logical      logical experts per layer
     * @param replicas     extra physical slots, replicas of logical 0, 1, ... (EPLB)
     * @param topK         experts per token
     * @param maxBatch     running requests at most
     * @param promptTokens prompt length range [min, max]
     * @param decodeSteps  decode steps per request range [min, max]
     */
    public record Shape(int layers, int firstMoe, int logical, int replicas, int topK, int maxBatch,
                        int[] promptTokens, int[] decodeSteps) {
        /** 4 layers (layer 0 dense), 12 experts on 16 slots, top-4, 4 requests at a time. */
        public static Shape small() {
            return new Shape(4, 1, 12, 4, 4, 4, new int[] {2, 12}, new int[] {1, 6});
        }

        /** DeepSeek-V3's shape (catalog id deepseek-v3): 61 layers, 3 dense, 256 experts on 288 slots, top-8. */
        public static Shape deepseek(int maxBatch) {
            return new Shape(61, 3, 256, 32, 8, maxBatch, new int[] {16, 256}, new int[] {8, 64});
        }

        public int moeLayers() {
            return layers - firstMoe;
        }

        public String modelSpec(String id) {
            StringBuilder moe = new StringBuilder();
            for (int l = firstMoe; l < layers; l++) {
                moe.append(l == firstMoe ? "" : ",").append(l);
            }
            return id + ":" + layers + ":" + moe + ":" + logical + ":" + topK;
        }
    }

    private static final class Running {
        final long id;
        final int prompt;
        final int decodeSteps;
        int done;

        Running(long id, int prompt, int decodeSteps) {
            this.id = id;
            this.prompt = prompt;
            this.decodeSteps = decodeSteps;
        }
    }

    private final Shape shape;
    private final Random rng;
    private final int[] physicalToLogical;
    private final Map<Integer, List<Integer>> physicalOf = new HashMap<>();
    private final List<Running> running = new ArrayList<>();
    private long forwardPassId;
    private long nextRequest;
    private boolean lastWasExtend;
    // Last positions of requests that ended in the latest decode pass. SGLang records no request ids, so
    // two requests at one position, one of which has just ended, cannot be told apart (attach takes the
    // earlier one and counts the match as ambiguous); the stand-in admits a prompt whose last position no
    // running or just-ended request holds, so its truth is recoverable. Real servers can make that case.
    private final List<Integer> finishedAt = new ArrayList<>();

    public SimulatedEngine(Shape shape, long seed) {
        this.shape = shape;
        this.rng = new Random(seed);
        this.physicalToLogical = new int[shape.logical() + shape.replicas()];
        for (int p = 0; p < physicalToLogical.length; p++) {
            physicalToLogical[p] = p < shape.logical() ? p : (p - shape.logical()) % shape.logical();
            physicalOf.computeIfAbsent(physicalToLogical[p], x -> new ArrayList<>()).add(p);
        }
    }

    public Shape shape() {
        return shape;
    }

    /** SGLang's last_physical_to_logical_map: int64 [layers, physical], the same row for every layer. */
    public TorchSave.IntTensor physicalToLogicalMap() {
        long[] v = new long[shape.layers() * physicalToLogical.length];
        for (int l = 0; l < shape.layers(); l++) {
            for (int p = 0; p < physicalToLogical.length; p++) {
                v[l * physicalToLogical.length + p] = physicalToLogical[p];
            }
        }
        return new TorchSave.IntTensor("int64", new int[] {shape.layers(), physicalToLogical.length}, v);
    }

    public int physicalSlots() {
        return physicalToLogical.length;
    }

    /** A server restart: running requests are lost (ids go on, so the truth never reuses one). */
    public synchronized void abortAll() {
        running.clear();
        finishedAt.clear();
        lastWasExtend = false;
    }

    /** Runs one forward pass. */
    public synchronized Pass step() {
        boolean extend = running.size() < shape.maxBatch() && (!lastWasExtend || running.isEmpty());
        lastWasExtend = extend;
        java.util.Set<Integer> justFinished = new java.util.HashSet<>(finishedAt);
        finishedAt.clear();
        List<Chunk> chunks = new ArrayList<>();
        List<Long> positions = new ArrayList<>();
        List<Long> lens = new ArrayList<>();
        List<int[]> physical = new ArrayList<>(); // per token [moe layer][k]
        if (extend) {
            int admit = 1 + rng.nextInt(Math.max(1, Math.min(2, shape.maxBatch() - running.size())));
            for (int i = 0; i < admit; i++) {
                int[] pr = shape.promptTokens();
                int[] ds = shape.decodeSteps();
                java.util.Set<Integer> taken = new java.util.HashSet<>(justFinished);
                for (Running o : running) {
                    taken.add(o.prompt + o.done - 1);
                }
                int prompt;
                int tries = 0;
                do {
                    prompt = pr[0] + rng.nextInt(pr[1] - pr[0] + 1);
                } while (taken.contains(prompt - 1) && ++tries < 100);
                Running r = new Running(nextRequest++, prompt, ds[0] + rng.nextInt(ds[1] - ds[0] + 1));
                running.add(r);
                int[] logical = new int[r.prompt * perToken()];
                for (int t = 0; t < r.prompt; t++) {
                    physical.add(drawToken(logical, t * perToken()));
                    positions.add((long) t);
                }
                lens.add((long) r.prompt);
                chunks.add(new Chunk(r.id, 0, 0, r.prompt, logical, r.decodeSteps == 0));
            }
        } else {
            List<Running> finished = new ArrayList<>();
            for (Running r : running) {
                int[] logical = new int[perToken()];
                physical.add(drawToken(logical, 0));
                positions.add((long) (r.prompt + r.done));
                r.done++;
                boolean last = r.done == r.decodeSteps;
                chunks.add(new Chunk(r.id, r.done, 0, 1, logical, last));
                if (last) {
                    finished.add(r);
                    finishedAt.add(r.prompt + r.done - 1);
                }
            }
            running.removeAll(finished);
        }
        int tokens = physical.size();
        int slots = physicalToLogical.length;
        long[] topk = new long[shape.layers() * tokens * TOPK_WIDTH];
        java.util.Arrays.fill(topk, -1);
        long[] count = new long[shape.layers() * slots];
        for (int t = 0; t < tokens; t++) {
            int[] ids = physical.get(t);
            for (int m = 0; m < shape.moeLayers(); m++) {
                int l = m + shape.firstMoe();
                for (int a = 0; a < shape.topK(); a++) {
                    int slot = ids[m * shape.topK() + a];
                    topk[(l * tokens + t) * TOPK_WIDTH + a] = slot;
                    count[l * slots + slot]++;
                }
            }
        }
        List<Long> inputIds = new ArrayList<>();
        for (int t = 0; t < tokens; t++) {
            inputIds.add((long) rng.nextInt(32000));
        }
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("forward_pass_id", forwardPassId);
        record.put("rank", 0);
        record.put("gatherer_key", "primary");
        record.put("input_ids", inputIds);
        record.put("positions", positions);
        record.put("extend_seq_lens", extend ? lens : null);
        record.put("forward_mode", extend ? EXTEND : DECODE);
        record.put("topk_ids_of_layer", new TorchSave.IntTensor("int32", new int[] {shape.layers(), tokens, TOPK_WIDTH}, topk));
        record.put("misc_objects", List.of());
        record.put("global_physical_count", new TorchSave.IntTensor("int32", new int[] {shape.layers(), slots}, count));
        return new Pass(forwardPassId++, extend ? EXTEND : DECODE, record, chunks);
    }

    private int perToken() {
        return shape.moeLayers() * shape.topK();
    }

    /** Draws k distinct logical experts per MoE layer into logical[at..]; returns their physical slots. */
    private int[] drawToken(int[] logical, int at) {
        int[] physical = new int[perToken()];
        for (int m = 0; m < shape.moeLayers(); m++) {
            List<Integer> pool = new ArrayList<>();
            for (int e = 0; e < shape.logical(); e++) {
                pool.add(e);
            }
            for (int a = 0; a < shape.topK(); a++) {
                int e = pool.remove(rng.nextInt(pool.size()));
                logical[at + m * shape.topK() + a] = e;
                List<Integer> replicas = physicalOf.get(e);
                physical[m * shape.topK() + a] = replicas.get(rng.nextInt(replicas.size()));
            }
        }
        return physical;
    }
}
