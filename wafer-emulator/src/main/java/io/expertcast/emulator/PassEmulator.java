package io.expertcast.emulator;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.state.BoundedLru;
import io.expertcast.core.wafer.CopyEnable;
import io.expertcast.core.wafer.InProcessForecast;
import io.expertcast.core.wafer.PrefetchShape;
import io.expertcast.core.wafer.InvalidPlanException;
import io.expertcast.core.wafer.PassResult;
import io.expertcast.core.wafer.PassWorkload;
import io.expertcast.core.wafer.Policies;
import io.expertcast.core.wafer.PolicyTotals;
import io.expertcast.core.wafer.WaferContext;
import io.expertcast.core.wafer.WaferEngine;
import io.expertcast.emulator.prefetch.PrefetchBook;
import io.expertcast.core.wafer.PrefetchCounts;
import io.expertcast.core.wafer.PrefetchSource;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.Assignment;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.schemas.WaferMetrics;
import io.expertcast.streams.DeadLetters;
import io.expertcast.streams.pass.CompletedPass;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs every configured policy on one completed pass (Kafka-free apart from the record types), giving
 * one per-pass WaferMetrics delta per policy in the configured order. The service and the offline
 * {@code simulate} both call it, so both give the same numbers for the same passes in the same order.
 *
 * <p>State per model, in memory: one {@link WaferEngine} per policy (resource clocks, LLC and HBM
 * copies carry over from pass to pass) and the Pred policies' source of copy decisions:
 * <ul>
 *   <li>{@link PrefetchSource#TOPIC} (the service's default): the predictor's commands from
 *       moe.prefetch, filed by {@link #offer} in a {@link PrefetchBook} and joined to the pass they
 *       target by request id and step;</li>
 *   <li>{@link PrefetchSource#IN_PROCESS} (offline {@code simulate}): core's {@link InProcessForecast}
 *       in a {@link PrefetchShape}, by default {@link PrefetchShape#ON_WAFER}: for a pass, the forecast
 *       at each MoE layer is the union of the top-n successors of the experts its tokens selected (the
 *       next token's likely experts), copied into HBM (token level, as the predictor's NEXT_TOKEN
 *       commands); the heatmap then learns the pass's transitions.</li>
 * </ul>
 * Passes of a model must therefore arrive in order, as they do from one partition. Thread-safe
 * (commands and passes may come from different tasks). The prefetch books can be journalled
 * ({@link Journals}, one journal per (model, source) book) and rebuilt with {@link #restoreBook}; the
 * engines' state goes to the same journals after every pass and is rebuilt with {@link #restoreEngines}
 * (so a restart goes on with the same wafer); the in-process heatmaps are not kept across a restart.
 *
 * <p>Sources (engine instances or replays, SelectionEvent v2) are emulated apart: each (model, source)
 * has its own wafer, engines, heatmap and prefetch book, so N sources of one model give, per source,
 * exactly what each alone gives. A command is filed with its source's book: the source named by its
 * moe.prefetch key ({@code source/requestId}, {@link Topics#requestKey}); a command keyed by the bare
 * request id (a predictor that does not key by source) goes to the model's only source, or, with
 * several, to the one source whose book knows the request, else it is a dead letter (never guessed).
 * At most {@link #MAX_SOURCES_CONFIG} sources' wafers are kept per model (default
 * {@value #DEFAULT_MAX_SOURCES_PER_MODEL}; a generated replay id is a new source each run): the least
 * recently emulated one is forgotten, counted and logged, and its engines' stored state deleted.
 *
 * <p>Two kinds of bad input become a dead letter instead of a wrong number:
 * <ul>
 *   <li>an unusable controller plan (die outside the mesh, expert or layer out of range, tokens that
 *       do not match the pass's routing): the plan-driven policies skip the pass, the others count it;</li>
 *   <li>selections whose batch token indices do not tile the ForwardPass exactly (outside it,
 *       overlapping, or leaving a token without selections): no policy counts the pass;</li>
 *   <li>a pass of a model whose experts do not fit the wafer's HBM (e.g. Kimi-K2 in BF16 on 25
 *       dies): no policy counts it.</li>
 * </ul>
 * The source offset of such a letter is -1: the pass was assembled from several records.
 */
public final class PassEmulator {
    private final EmulatorSettings settings;
    private final PrefetchShape shape;
    private final Map<String, ModelRun> runs = new HashMap<>(); // model/source -> its wafer; lookup only
    private final Map<String, PrefetchBook> books = new HashMap<>(); // model/source -> its commands; lookup only
    private final Map<String, Set<String>> sources = new HashMap<>(); // model -> sources with an emulated pass
    private final Map<String, String> runOwners = new HashMap<>(); // model/source -> the task keeping its engines
    /** The Streams property bounding the sources whose wafers are kept per model (each replay id is a source). */
    public static final String MAX_SOURCES_CONFIG = "expertcast.emulator.max-sources-per-model";
    /** Wafers kept per model: a wafer is one engine per policy (Maverick on 25 dies: ~1.4 MB each). */
    public static final int DEFAULT_MAX_SOURCES_PER_MODEL = 16;
    private int maxSourcesPerModel = DEFAULT_MAX_SOURCES_PER_MODEL;
    /** model -> its sources' wafers, least recently emulated first: the oldest goes when a new source comes. */
    private final Map<String, BoundedLru<String, Boolean>> wafers = new HashMap<>();
    private final List<String[]> evictedWafers = new ArrayList<>(); // (model, source) since the last pass
    private long wafersEvicted;
    private long lastEvictionLogMs = Long.MIN_VALUE / 2;

    /** One model's wafer under every policy, and the predictor's state. */
    private final class ModelRun {
        final ModelShape model;
        final WaferContext wafer;
        final Map<String, WaferEngine> engines = new LinkedHashMap<>();
        final InProcessForecast forecast;

        ModelRun(ModelShape model) {
            this.model = model;
            this.wafer = WaferContext.even(settings.hardware(), model);
            for (String p : settings.policies()) {
                engines.put(p, new WaferEngine(wafer, model));
            }
            this.forecast = new InProcessForecast(model, shape, settings.predictN());
        }
    }

    public PassEmulator(EmulatorSettings settings) {
        this(settings, PrefetchShape.ON_WAFER);
    }

    /**
     * With the shape of the in-process forecast ({@link PrefetchSource#IN_PROCESS}): the offline
     * {@code simulate} compares the command shapes a live predictor could send on the same passes.
     */
    public PassEmulator(EmulatorSettings settings, PrefetchShape shape) {
        this.settings = settings;
        this.shape = shape;
    }

    /** The in-process forecast of a model's (empty-source) wafer once a pass of it ran, else null. */
    public synchronized InProcessForecast inProcessForecast(String model) {
        ModelRun run = runs.get(model + "/");
        return run == null ? null : run.forecast;
    }

    public EmulatorSettings settings() {
        return settings;
    }

    /**
     * At most {@code max} sources' wafers per model (the least recently emulated is forgotten, its engines'
     * stored state deleted; a later pass of that source starts a cold wafer). Applies to wafers made from then on.
     */
    public synchronized void maxSourcesPerModel(int max) {
        if (max < 1) {
            throw new IllegalArgumentException(MAX_SOURCES_CONFIG + " must be at least 1, got " + max);
        }
        maxSourcesPerModel = max;
    }

    /** Wafers forgotten so far because their model had more sources than the bound. */
    public synchronized long wafersEvicted() {
        return wafersEvicted;
    }

    /** Marks (model, source)'s wafer as just used; a source new to a full model evicts the least recent one. */
    private void keepWafer(String model, String source) {
        wafers.computeIfAbsent(model, m -> new BoundedLru<>(maxSourcesPerModel, 0, (evicted, v) -> {
            runs.remove(m + "/" + evicted);
            runOwners.remove(m + "/" + evicted);
            evictedWafers.add(new String[] {m, evicted});
            wafersEvicted++;
        })).put(source, Boolean.TRUE, 0);
        long now = System.currentTimeMillis();
        if (!evictedWafers.isEmpty() && now - lastEvictionLogMs >= 60_000) {
            lastEvictionLogMs = now;
            org.slf4j.LoggerFactory.getLogger(PassEmulator.class).info("wafers of {} source(s) evicted so far (at most "
                    + "{} per model, {}); latest: {} of {}", wafersEvicted, maxSourcesPerModel, MAX_SOURCES_CONFIG,
                    evictedWafers.get(evictedWafers.size() - 1)[1], model);
        }
    }

    /**
     * Files a prefetch command from moe.prefetch for the pass it targets (prefetch source topic). The
     * command's model must be in the catalog; returns the dead-letter reason for a layer or expert the
     * model does not have (then counted as unknown), else null, and the counts the command changed.
     */
    public CommandOutcome offer(PrefetchCommand command) {
        return offer(command, command.getRequestId());
    }

    /** As above, the command's moe.prefetch key naming its source ({@code source/requestId}) or not (the request id). */
    public CommandOutcome offer(PrefetchCommand command, String recordKey) {
        return offer(command, recordKey, Journals.NONE);
    }

    /**
     * As above, writing what changed in the (model, source) book the command went to into
     * {@code journals} (the calling task's stores).
     */
    public synchronized CommandOutcome offer(PrefetchCommand command, String recordKey, Journals journals) {
        ModelShape model = settings.catalog().byId(command.getModel()).orElseThrow(
                () -> new IllegalArgumentException("unknown model " + command.getModel()));
        String source = sourceNamedBy(recordKey, command);
        if (source == null) {
            Set<String> known = sources.getOrDefault(model.id(), Set.of());
            if (known.size() <= 1) {
                source = known.isEmpty() ? "" : known.iterator().next();
            } else {
                List<String> holding = known.stream().filter(s -> {
                    PrefetchBook b = books.get(model.id() + "/" + s);
                    return b != null && b.knows(command.getRequestId());
                }).toList();
                if (holding.size() != 1) {
                    return new CommandOutcome("prefetch command for request " + command.getRequestId() + " of "
                            + model.id() + " names no source, and " + holding.size() + " of the model's sources "
                            + known + " run that request (key moe.prefetch records source/requestId)",
                            new PrefetchCounts(0, 0, 1, 0), "");
                }
                source = holding.get(0);
            }
        }
        String problem = PrefetchBook.problem(model, command);
        if (problem != null) {
            return new CommandOutcome(problem, new PrefetchCounts(0, 0, 1, 0), source);
        }
        PrefetchBook book = book(model, source);
        book.journal(journals.of(model.id(), source));
        try {
            return new CommandOutcome(null, book.offer(command), source);
        } finally {
            book.journal(PrefetchBook.Journal.NONE);
        }
    }

    /**
     * Where the books write their changes: one journal per (model, source) book, and a book moving
     * from the empty source to a model's first source (see {@link #emulate}) moves its journal too.
     */
    public interface Journals {
        Journals NONE = new Journals() {
            @Override
            public PrefetchBook.Journal of(String model, String source) {
                return PrefetchBook.Journal.NONE;
            }

            @Override
            public void moved(String model, String fromSource, String toSource) {
            }
        };

        PrefetchBook.Journal of(String model, String source);

        /** Everything journalled for (model, fromSource) now belongs to (model, toSource). */
        void moved(String model, String fromSource, String toSource);

        /** The task whose state this is (engines are kept per task), or null: engines not kept. */
        default String owner() {
            return null;
        }

        /** The state of the (model, source) wafer's engine of {@code policy} after a pass. */
        default void engine(String model, String source, String policy, byte[] state) {
        }

        /** The (model, source) wafer's engine of {@code policy} is gone (its source forgotten). */
        default void forget(String model, String source, String policy) {
        }
    }

    /** Forgets every prefetch book and the sources they learnt (before the books are rebuilt from the state stores). */
    public synchronized void clearBooks() {
        books.clear();
        sources.clear();
    }

    /**
     * Rebuilds a (model, source) book from what its journal wrote (a restarted service: the commands
     * it had filed and where each request stood). A book whose clock ran had emulated a pass of its
     * source, so the source is known again (bare-keyed commands are routed among the known sources).
     */
    public synchronized void restoreBook(String modelId, String source, long clockMs, long nextCheckMs,
                                         Map<String, PrefetchBook.RequestProgress> progress,
                                         Map<String, Map<Integer, List<PrefetchCommand>>> commands) {
        ModelShape model = settings.catalog().byId(modelId).orElseThrow(
                () -> new IllegalArgumentException("unknown model " + modelId));
        book(model, source).restore(clockMs, nextCheckMs, progress, commands);
        if (clockMs != Long.MIN_VALUE) {
            sources.computeIfAbsent(modelId, m -> new java.util.LinkedHashSet<>()).add(source);
        }
    }

    /**
     * Rebuilds the wafers of task {@code owner} from its store: every wafer that task kept is dropped
     * (under exactly-once a task restarts from its last commit, so what ran after it is undone), then
     * each stored (model, source) wafer gets its engines back. A state that does not fit (another mesh,
     * a model changed) leaves that engine cold, with a warning. Returns the engines restored.
     *
     * @param states model -> source -> policy -> {@link WaferEngine#exportState}
     */
    public synchronized int restoreEngines(String owner, Map<String, Map<String, Map<String, byte[]>>> states) {
        runOwners.entrySet().removeIf(e -> {
            if (owner.equals(e.getValue())) {
                runs.remove(e.getKey());
                return true;
            }
            return false;
        });
        int restored = 0;
        for (var byModel : states.entrySet()) {
            ModelShape model = settings.catalog().byId(byModel.getKey()).orElse(null);
            if (model == null) {
                continue; // no longer in the catalog: its passes are dead letters now
            }
            for (var bySource : byModel.getValue().entrySet()) {
                ModelRun run;
                try {
                    run = new ModelRun(model);
                } catch (IllegalArgumentException e) {
                    continue; // the wafer cannot hold the model (then no pass of it ran)
                }
                for (var byPolicy : bySource.getValue().entrySet()) {
                    WaferEngine engine = run.engines.get(byPolicy.getKey());
                    if (engine == null) {
                        continue; // a policy no longer configured
                    }
                    try {
                        engine.importState(byPolicy.getValue());
                        restored++;
                    } catch (IllegalArgumentException e) {
                        org.slf4j.LoggerFactory.getLogger(PassEmulator.class).warn(
                                "wafer of {}/{} under {} starts cold: {}", model.id(), bySource.getKey(),
                                byPolicy.getKey(), e.getMessage());
                    }
                }
                String key = model.id() + "/" + bySource.getKey();
                runs.put(key, run);
                runOwners.put(key, owner);
                keepWafer(model.id(), bySource.getKey());
                sources.computeIfAbsent(model.id(), m -> new java.util.LinkedHashSet<>()).add(bySource.getKey());
            }
        }
        return restored;
    }

    /** The source a {@code source/requestId} key names, or null for a key that is the bare request id (or none). */
    static String sourceNamedBy(String recordKey, PrefetchCommand command) {
        String request = command.getRequestId();
        if (recordKey == null || recordKey.length() <= request.length() + 1 || !recordKey.endsWith("/" + request)) {
            return null;
        }
        String source = recordKey.substring(0, recordKey.length() - request.length() - 1);
        return Topics.sourceProblem(source) != null ? null : source;
    }

    private PrefetchBook book(ModelShape model, String source) {
        return books.computeIfAbsent(model.id() + "/" + source,
                id -> new PrefetchBook(model, settings.requestIdleTimeout()));
    }

    /** What filing one command did: a dead-letter reason or null, the change in counts and the source they count for. */
    public record CommandOutcome(String problem, PrefetchCounts counts, String source) {
    }

    /** Commands of {@code model} filed and not yet resolved (0 when none came), over all its sources. */
    public synchronized long pendingCommands(String model) {
        return books.entrySet().stream().filter(e -> e.getKey().startsWith(model + "/"))
                .mapToLong(e -> e.getValue().pendingCommands()).sum();
    }

    /** Requests of {@code model} the books still hold: commands unresolved or last step not yet emulated. */
    public synchronized int openRequests(String model) {
        return books.entrySet().stream().filter(e -> e.getKey().startsWith(model + "/"))
                .mapToInt(e -> e.getValue().openRequests()).sum();
    }

    /** The per-policy deltas of one pass, and at most one dead letter. */
    public record Outcome(List<WaferMetrics> deltas, List<PassResult> results, DeadLetter deadLetter) {
    }

    /** The engine of a model (empty source) and policy once a pass of that model was emulated (for snapshots and tests). */
    public WaferEngine engine(String model, String policy) {
        return engine(model, "", policy);
    }

    /** The engine of a model's source and policy once a pass of theirs was emulated. */
    public synchronized WaferEngine engine(String model, String source, String policy) {
        ModelRun run = runs.get(model + "/" + source);
        return run == null ? null : run.engines.get(policy);
    }

    /** A pass from the stream: the plan-driven policies execute its plans (moe.allocations). */
    public Outcome emulate(CompletedPass completed, String application) {
        return emulate(completed, application, null);
    }

    /**
     * A pass with its plans given per MoE layer as {expert, die, tokens} triples (the offline
     * simulation runs Algorithm 1 in-process), or null to read them from {@code completed.plans()}.
     */
    public Outcome emulate(CompletedPass completed, String application, List<int[][]> givenPlans) {
        return emulate(completed, application, givenPlans, Journals.NONE);
    }

    /** As above, writing what changed in the pass's (model, source) prefetch book to {@code journals}. */
    public synchronized Outcome emulate(CompletedPass completed, String application, List<int[][]> givenPlans,
                                        Journals journals) {
        String modelId = completed.pass().getModel();
        String source = completed.pass().getSource();
        long passId = completed.pass().getPassId();
        ModelShape model = settings.catalog().byId(modelId).orElseThrow(); // ValidatedPasses admits known models only
        PassWorkload workload;
        try {
            workload = workload(model, completed);
        } catch (IllegalArgumentException e) {
            return new Outcome(List.of(), List.of(), letter(application, Topics.SELECTIONS.name(), modelId, source,
                    passId, "selections do not fit their pass, no policy counts it: " + e.getMessage()));
        }
        ModelRun run = runs.get(modelId + "/" + source);
        if (run == null) {
            try {
                run = new ModelRun(model);
            } catch (IllegalArgumentException e) { // its experts do not fit the wafer's HBM
                return new Outcome(List.of(), List.of(), letter(application, Topics.PASSES.name(), modelId, source,
                        passId, "the wafer cannot hold this model, no policy counts the pass: " + e.getMessage()));
            }
            runs.put(modelId + "/" + source, run);
        }
        keepWafer(modelId, source);
        Set<String> known = sources.computeIfAbsent(modelId, m -> new java.util.LinkedHashSet<>());
        if (known.isEmpty() && !source.isEmpty() && books.containsKey(modelId + "/")
                && !books.containsKey(modelId + "/" + source)) {
            // Commands without a source that came before the model's first pass were for its first source.
            books.put(modelId + "/" + source, books.remove(modelId + "/"));
            journals.moved(modelId, "", source);
        }
        known.add(source);
        List<int[][]> plans = null;
        String planProblem = null;
        if (givenPlans != null) {
            plans = givenPlans;
        } else if (settings.needsPlans()) {
            try {
                plans = plansByLayer(model, completed.plans());
            } catch (InvalidPlanException e) {
                planProblem = e.getMessage();
            }
        }
        boolean inProcess = settings.prefetchSource() == PrefetchSource.IN_PROCESS;
        CopyEnable predicted = null;
        PrefetchCounts prefetch = PrefetchCounts.NONE;
        List<InProcessForecast.Entry> entries = null;
        if (settings.needsPrediction() && inProcess) {
            // The token-level heatmap's forecast (Insight 2: long reuse distance) is copied into HBM,
            // as the predictor's NEXT_TOKEN commands ask.
            entries = entries(completed.selections());
            predicted = run.forecast.copyEnable(workload, entries);
        } else if (settings.needsPrediction()) {
            PrefetchBook book = book(model, source);
            book.journal(journals.of(modelId, source));
            PrefetchBook.PassForecast taken;
            try {
                taken = book.take(completed.pass(), completed.selections());
            } finally {
                book.journal(PrefetchBook.Journal.NONE);
            }
            predicted = taken.copy();
            prefetch = taken.counts();
        }
        List<WaferMetrics> deltas = new ArrayList<>();
        List<PassResult> results = new ArrayList<>();
        for (String name : settings.policies()) {
            try {
                if (planProblem != null && Policies.needsPlans(name)) {
                    throw new InvalidPlanException(planProblem);
                }
                PassResult r = run.engines.get(name).run(workload, Policies.of(name, plans), predicted);
                results.add(r);
                deltas.add(WaferTotals.delta(modelId, source, settings.hardware().name(), passId,
                        completed.pass().getEventTimeMs(), PolicyTotals.of(r),
                        Policies.needsPrediction(name) ? prefetch : PrefetchCounts.NONE));
            } catch (InvalidPlanException e) {
                planProblem = e.getMessage();
                if (Policies.needsPrediction(name) && !prefetch.isNone()) { // the commands' fate does not depend on the plan
                    deltas.add(WaferTotals.delta(modelId, source, settings.hardware().name(), passId,
                            completed.pass().getEventTimeMs(), PolicyTotals.empty(name), prefetch));
                }
            }
        }
        if (entries != null) {
            run.forecast.learn(workload, entries);
        }
        if (journals.owner() != null) {
            runOwners.put(modelId + "/" + source, journals.owner());
            for (var e : run.engines.entrySet()) {
                journals.engine(modelId, source, e.getKey(), e.getValue().exportState());
            }
        }
        for (String[] gone : evictedWafers) {
            for (String policy : settings.policies()) {
                journals.forget(gone[0], gone[1], policy);
            }
        }
        evictedWafers.clear();
        DeadLetter rejected = planProblem == null ? null : letter(application, Topics.ALLOCATIONS.name(), modelId,
                source, passId, "invalid plan, the plan-driven policies skip this pass: " + planProblem);
        return new Outcome(deltas, results, rejected);
    }

    /** The pass's (request, step) entries, in the order of its selections. */
    private static List<InProcessForecast.Entry> entries(List<SelectionEvent> selections) {
        List<InProcessForecast.Entry> entries = new ArrayList<>(selections.size());
        for (SelectionEvent e : selections) {
            entries.add(new InProcessForecast.Entry(e.getRequestId(), e.getStep(), e.getBatchTokenOffset(),
                    e.getTokenCount(), e.getLastStep()));
        }
        return entries;
    }

    private static DeadLetter letter(String application, String topic, String model, String source, long passId,
                                     String reason) {
        byte[] key = Topics.passKey(model, source, passId).getBytes(StandardCharsets.UTF_8);
        return DeadLetters.of(application, topic, -1, -1L, reason, key, null);
    }

    /**
     * Each event's ids placed at its batch token offset: the pass in batch order. Throws
     * IllegalArgumentException unless the events cover every token of the pass exactly once.
     */
    public static PassWorkload workload(ModelShape model, CompletedPass completed) {
        int tokens = completed.pass().getTotalTokens();
        int perToken = model.numMoeLayers() * model.topK();
        int[] ids = new int[tokens * perToken];
        boolean[] covered = new boolean[tokens];
        for (SelectionEvent e : completed.selections()) {
            int first = e.getBatchTokenOffset();
            if (first < 0 || first + e.getTokenCount() > tokens) {
                throw new IllegalArgumentException("request " + e.getRequestId() + " step " + e.getStep()
                        + " claims batch tokens " + first + ".." + (first + e.getTokenCount() - 1) + " of pass "
                        + e.getPassId() + ", which has " + tokens);
            }
            for (int t = first; t < first + e.getTokenCount(); t++) {
                if (covered[t]) {
                    throw new IllegalArgumentException("batch token " + t + " of pass " + e.getPassId()
                            + " claimed twice (again by request " + e.getRequestId() + ")");
                }
                covered[t] = true;
            }
            ByteBuffer b = e.getExpertIds().duplicate().order(ByteOrder.LITTLE_ENDIAN);
            int at = first * perToken;
            for (int i = 0; i < e.getTokenCount() * perToken; i++) {
                ids[at + i] = b.getShort() & 0xFFFF;
            }
        }
        for (int t = 0; t < tokens; t++) {
            if (!covered[t]) {
                throw new IllegalArgumentException("batch token " + t + " of pass " + completed.pass().getPassId()
                        + " has no selections");
            }
        }
        return new PassWorkload(model, completed.pass().getPassId(), tokens, ids);
    }

    /** Plans indexed by MoE layer; a layer outside the model is an unusable plan, not a silent skip. */
    private static List<int[][]> plansByLayer(ModelShape model, List<AllocationPlan> plans) {
        List<int[][]> byLayer = new ArrayList<>();
        for (int l = 0; l < model.numMoeLayers(); l++) {
            byLayer.add(null);
        }
        for (AllocationPlan plan : plans) {
            if (plan.getLayer() < 0 || plan.getLayer() >= model.numMoeLayers()) {
                throw new InvalidPlanException("plan for pass " + plan.getPassId() + " names MoE layer "
                        + plan.getLayer() + ", model " + model.id() + " has " + model.numMoeLayers());
            }
            int[][] triples = new int[plan.getAssignments().size()][];
            for (int i = 0; i < triples.length; i++) {
                Assignment a = plan.getAssignments().get(i);
                triples[i] = new int[] {a.getExpert(), a.getDie(), a.getTokens()};
            }
            byLayer.set(plan.getLayer(), triples);
        }
        return byLayer;
    }
}
