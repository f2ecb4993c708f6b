package io.expertcast.emulator.prefetch;

import io.expertcast.core.model.ModelShape;
import io.expertcast.core.wafer.CopyEnable;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.PassEntry;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchPredictions;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import java.util.ArrayList;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import io.expertcast.core.wafer.PrefetchCounts;

/**
 * One model's (and one source's) prefetch commands from moe.prefetch, joined to the passes they target by request id
 * and step (Kafka-free apart from the record types). A pass's copy-enable set (the PDU's cp_en,
 * paper case study) is, per MoE layer, the union of the experts of every command that targets one
 * of the pass's (request, step) entries, each in its command's tier ({@link CopyEnable}: an LLC
 * command keeps the expert in the reader's LLC, an HBM command writes it into the reader's HBM):
 * <ul>
 *   <li>a NEXT_TOKEN command applies to the pass holding its request's {@code targetStep};</li>
 *   <li>a DECODE_PHASE command applies to every pass holding a step >= {@code targetStep} of its
 *       request, until the request's last step (the predictor makes it at the first decode step,
 *       so it usually misses that step and serves the rest).</li>
 * </ul>
 * A command that arrives after the passes it could apply to were emulated is late; one whose pass
 * never comes expires when its request ends (every decode step up to its last emulated: passes may
 * complete out of order), or when its request has gone idle: no pass and no
 * command for longer than the idle timeout (its last step never came: a client gone, a replay cut
 * short, the commands of another run). Idleness is measured on the passes' event time, so a replay
 * of old traces expires requests exactly as live traffic would, and checked every quarter of the
 * timeout (as the predictor drops its idle requests), walking only the idle requests: they are kept
 * in order of their last activity. Steps are matched exactly, not by order, so passes that reach
 * the emulator out of order (several partitions) still meet their commands. Every command ends in
 * exactly one of {@link PrefetchCounts}' buckets. Mutators return the change in counts they caused.
 *
 * <p>Durable through a {@link Journal}: after each {@link #offer} and {@link #take} the book writes
 * what changed (each touched request's progress, each filed or resolved command slot, its clock), and
 * {@link #restore} rebuilds it from what was written; the service journals into changelogged state
 * stores, so a restarted emulator continues with the commands it had filed.
 */
public final class PrefetchBook {
    /** Finished requests remembered, so a command arriving after its request ended counts as late. */
    static final int FINISHED_MEMORY = 1 << 16;

    private final ModelShape model;
    private final long idleTimeoutMs;
    private final long checkEveryMs;
    /**
     * Requests with pending commands or emulated steps, by the pass clock at their last pass or
     * command; insertion order is activity order, and as the clock never goes back it is also stamp
     * order, so the idle ones are at the head.
     */
    private final LinkedHashMap<String, Long> lastActive = new LinkedHashMap<>();
    private long clockMs = Long.MIN_VALUE; // the newest pass event time seen; MIN before the first pass
    private long nextCheckMs = Long.MIN_VALUE;
    private final Map<String, Pending> pending = new HashMap<>(); // lookup only, never iterated
    private final Map<String, BitSet> emulatedSteps = new HashMap<>(); // running requests
    private final Map<String, Integer> lastSteps = new HashMap<>(); // running requests whose last step was seen
    private final Map<String, BitSet> usedSteps = new HashMap<>(); // running requests' steps whose command was used
    private final Map<String, Boolean> finished = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            if (size() > FINISHED_MEMORY) {
                dirtyRequests.add(eldest.getKey()); // forgotten: its progress leaves the journal too
                return true;
            }
            return false;
        }
    };
    private long pendingCommands;
    private Journal journal = Journal.NONE;
    /** Requests whose progress changed in the current call; slots "request\u0000slot" whose commands did. */
    private final java.util.LinkedHashSet<String> dirtyRequests = new java.util.LinkedHashSet<>();
    private final java.util.LinkedHashSet<String> dirtySlots = new java.util.LinkedHashSet<>();
    private boolean dirtyClock;

    /** The slot of a request's decode-phase command; next-token commands are in the slot of their step. */
    public static final int DECODE_PHASE_SLOT = -1;

    /** Where a book writes its changes, to be {@link #restore}d after a restart. */
    public interface Journal {
        Journal NONE = new Journal() {
            @Override
            public void progress(String request, RequestProgress progress) {
            }

            @Override
            public void commands(String request, int slot, List<PrefetchCommand> commands) {
            }

            @Override
            public void clock(long clockMs, long nextCheckMs) {
            }
        };

        /** The request's progress now, or null when the book forgot it. */
        void progress(String request, RequestProgress progress);

        /** The commands filed in a slot of the request now, or null when none are left there. */
        void commands(String request, int slot, List<PrefetchCommand> commands);

        void clock(long clockMs, long nextCheckMs);
    }

    /**
     * What the book knows of a request besides its commands: its last activity on the pass clock
     * (null when it is not open), the steps emulated (null: none), whether it finished (a later
     * command is late), what became of its decode-phase command, its last step once seen (null
     * before: the request ends when every step up to it was emulated) and the steps whose
     * next-token commands were used (null: none; the same command sent again counts once).
     */
    public record RequestProgress(Long lastActiveMs, long[] emulatedSteps, boolean finished, boolean decodePhaseUsed,
                                  boolean decodePhaseLate, Integer lastStep, long[] usedSteps) {
    }

    /** A request's commands not yet resolved. */
    private static final class Pending {
        PrefetchCommand decodePhase;
        boolean decodePhaseUsed;
        boolean decodePhaseLate; // arrived after its target step was emulated
        final TreeMap<Integer, List<PrefetchCommand>> nextToken = new TreeMap<>();
    }

    /** The copy-enable set of one pass (each command's experts in its tier) and the change in counts that taking it caused. */
    public record PassForecast(CopyEnable copy, PrefetchCounts counts) {
    }

    /** A book that gives up a request after {@code idleTimeout} of pass event time without a pass or command. */
    public PrefetchBook(ModelShape model, Duration idleTimeout) {
        if (idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("request idle timeout must be positive, got " + idleTimeout);
        }
        this.model = model;
        this.idleTimeoutMs = idleTimeout.toMillis();
        this.checkEveryMs = Math.max(1, idleTimeoutMs / 4);
    }

    /** Why {@code command} cannot be applied to this model, or null when it can. */
    public static String problem(ModelShape model, PrefetchCommand command) {
        if (command.getTargetStep() < 1) {
            return "prefetch command for request " + command.getRequestId() + " targets step "
                    + command.getTargetStep() + ", not a decode step";
        }
        String packing = PrefetchPredictions.packingProblem(command);
        if (packing != null) {
            return "prefetch command for request " + command.getRequestId() + ": " + packing;
        }
        for (int i = 0, layers = PrefetchPredictions.layers(command); i < layers; i++) {
            int layer = PrefetchPredictions.layer(command, i);
            if (layer < 0 || layer >= model.numMoeLayers()) {
                return "prefetch command for request " + command.getRequestId() + " names MoE layer "
                        + layer + ", model " + model.id() + " has " + model.numMoeLayers();
            }
            for (int j = 0, n = PrefetchPredictions.expertCount(command, i); j < n; j++) {
                int e = PrefetchPredictions.expert(command, i, j);
                if (e < 0 || e >= model.numExperts()) {
                    return "prefetch command for request " + command.getRequestId() + " names expert " + e
                            + " at MoE layer " + layer + ", model " + model.id() + " has "
                            + model.numExperts();
                }
            }
        }
        return null;
    }

    /** Files a valid command (see {@link #problem}) until its pass; a command too late is counted at once. */
    public PrefetchCounts offer(PrefetchCommand command) {
        try {
            return file(command);
        } finally {
            flushJournal();
        }
    }

    private PrefetchCounts file(PrefetchCommand command) {
        String request = command.getRequestId();
        if (finished.containsKey(request)) {
            return new PrefetchCounts(0, 1, 0, 0);
        }
        touch(request);
        BitSet emulated = emulatedSteps.get(request);
        boolean pastTarget = emulated != null && emulated.get(command.getTargetStep());
        if (command.getScope() == PrefetchScope.NEXT_TOKEN) {
            BitSet used = usedSteps.get(request);
            if (used != null && used.get(command.getTargetStep())) {
                return PrefetchCounts.NONE; // a command sent again (at-least-once delivery): its first was used
            }
            if (pastTarget) {
                return new PrefetchCounts(0, 1, 0, 0);
            }
            List<PrefetchCommand> forStep = pending.computeIfAbsent(request, r -> new Pending()).nextToken
                    .computeIfAbsent(command.getTargetStep(), s -> new ArrayList<>());
            if (forStep.contains(command)) {
                return PrefetchCounts.NONE; // the same command sent again: filed once
            }
            forStep.add(command);
            pendingCommands++;
            dirtySlots.add(slotKey(request, command.getTargetStep()));
            return PrefetchCounts.NONE;
        }
        Pending p = pending.computeIfAbsent(request, r -> new Pending());
        PrefetchCounts replaced = PrefetchCounts.NONE;
        if (p.decodePhase != null) { // a second plan for the request replaces the first
            replaced = resolveDecodePhase(p);
        } else {
            pendingCommands++;
        }
        p.decodePhase = command;
        p.decodePhaseUsed = false;
        p.decodePhaseLate = pastTarget;
        dirtySlots.add(slotKey(request, DECODE_PHASE_SLOT));
        return replaced;
    }

    /**
     * The copy-enable set for {@code pass}, taken when the pass is emulated: every command that
     * targets one of its entries is applied (used), and requests whose last step is in the pass end
     * (their commands for steps never emulated expire).
     */
    public PassForecast take(ForwardPass pass, List<SelectionEvent> selections) {
        try {
            return apply(pass, selections);
        } finally {
            flushJournal();
        }
    }

    private PassForecast apply(ForwardPass pass, List<SelectionEvent> selections) {
        advanceClock(pass.getEventTimeMs());
        CopyEnable predicted = new CopyEnable(model.numMoeLayers(), model.numExperts());
        long used = 0;
        for (PassEntry entry : pass.getEntries()) {
            String request = entry.getRequestId();
            int step = entry.getStep();
            if (finished.containsKey(request)) { // a pass older than the request's last, arriving after it
                continue;
            }
            emulatedSteps.computeIfAbsent(request, r -> new BitSet()).set(step);
            touch(request);
            Pending p = pending.get(request);
            if (p == null) {
                continue;
            }
            if (p.decodePhase != null && p.decodePhase.getTargetStep() <= step) {
                mark(predicted, p.decodePhase);
                if (!p.decodePhaseUsed) {
                    p.decodePhaseUsed = true;
                    used++;
                }
                dirtyRequests.add(request);
            }
            List<PrefetchCommand> forStep = p.nextToken.remove(step);
            if (forStep != null) {
                usedSteps.computeIfAbsent(request, r -> new BitSet()).set(step);
                dirtySlots.add(slotKey(request, step));
                dirtyRequests.add(request);
                for (PrefetchCommand c : forStep) {
                    mark(predicted, c);
                    used++;
                }
                pendingCommands -= forStep.size();
            }
        }
        PrefetchCounts counts = new PrefetchCounts(used, 0, 0, 0);
        for (SelectionEvent e : selections) {
            if (e.getLastStep() && !finished.containsKey(e.getRequestId())) {
                lastSteps.put(e.getRequestId(), e.getStep());
                dirtyRequests.add(e.getRequestId());
            }
        }
        // A request ends once every one of its decode steps was emulated, not when its last step is: with
        // several partitions a pass may complete before an earlier one, whose commands would then expire.
        for (PassEntry entry : pass.getEntries()) {
            String request = entry.getRequestId();
            Integer last = lastSteps.get(request);
            BitSet emulated = emulatedSteps.get(request);
            if (last != null && (last < 1 || emulated != null && emulated.nextClearBit(1) > last)) {
                counts = counts.plus(finish(request));
            }
        }
        if (clockMs >= nextCheckMs) {
            counts = counts.plus(finishIdleRequests());
            nextCheckMs = clockMs + checkEveryMs;
            dirtyClock = true;
        }
        return new PassForecast(predicted, counts);
    }

    /** Whether the book has seen {@code request}: filed, running or finished (and still remembered). */
    public boolean knows(String request) {
        return lastActive.containsKey(request) || finished.containsKey(request);
    }

    /** Requests filed or running, whose commands are not all resolved or whose last step has not come. */
    public int openRequests() {
        return lastActive.size();
    }

    /** The pass clock moves forward only: an older pass arriving late does not turn it back. */
    private void advanceClock(long passEventTimeMs) {
        if (passEventTimeMs <= clockMs) {
            return;
        }
        if (clockMs == Long.MIN_VALUE) {
            // Commands filed before the first pass had no clock to be stamped with: they are as recent as it.
            lastActive.replaceAll((request, stamp) -> passEventTimeMs);
            dirtyRequests.addAll(lastActive.keySet());
            nextCheckMs = passEventTimeMs + checkEveryMs;
        }
        clockMs = passEventTimeMs;
        dirtyClock = true;
    }

    /** Marks {@code request} active now (moves it to the tail of the activity order). */
    private void touch(String request) {
        lastActive.remove(request);
        lastActive.put(request, clockMs);
        dirtyRequests.add(request);
    }

    /**
     * Ends every request with no pass and no command for longer than the idle timeout: its commands
     * are resolved as if it had finished (those never applied expire).
     */
    private PrefetchCounts finishIdleRequests() {
        long cutoff = clockMs - idleTimeoutMs;
        List<String> idle = new ArrayList<>();
        for (Map.Entry<String, Long> e : lastActive.entrySet()) {
            if (e.getValue() >= cutoff) {
                break; // stamps are in order: the rest are newer
            }
            idle.add(e.getKey());
        }
        PrefetchCounts counts = PrefetchCounts.NONE;
        for (String request : idle) {
            counts = counts.plus(finish(request));
        }
        return counts;
    }

    /** Commands filed but not yet resolved (their request is still running or never reached the emulator). */
    public long pendingCommands() {
        return pendingCommands;
    }

    private PrefetchCounts finish(String request) {
        lastActive.remove(request);
        emulatedSteps.remove(request);
        lastSteps.remove(request);
        usedSteps.remove(request);
        finished.put(request, Boolean.TRUE);
        dirtyRequests.add(request);
        Pending p = pending.remove(request);
        if (p == null) {
            return PrefetchCounts.NONE;
        }
        if (p.decodePhase != null) {
            dirtySlots.add(slotKey(request, DECODE_PHASE_SLOT));
        }
        for (int step : p.nextToken.keySet()) {
            dirtySlots.add(slotKey(request, step));
        }
        PrefetchCounts counts = p.decodePhase == null ? PrefetchCounts.NONE : resolveDecodePhase(p);
        long expired = 0;
        for (List<PrefetchCommand> commands : p.nextToken.values()) {
            expired += commands.size();
            pendingCommands -= commands.size();
        }
        return counts.plus(new PrefetchCounts(0, 0, 0, expired));
    }

    /** Where the book writes its changes from now on (the calling task's stores). */
    public void journal(Journal journal) {
        this.journal = journal == null ? Journal.NONE : journal;
    }

    private static String slotKey(String request, int slot) {
        return slot + "\u0000" + request;
    }

    /** Writes what the current call changed, then forgets it. */
    private void flushJournal() {
        try {
            if (journal == Journal.NONE) {
                return;
            }
            for (String request : dirtyRequests) {
                journal.progress(request, progress(request));
            }
            for (String slot : dirtySlots) {
                int cut = slot.indexOf('\u0000');
                int step = Integer.parseInt(slot.substring(0, cut));
                String request = slot.substring(cut + 1);
                Pending p = pending.get(request);
                List<PrefetchCommand> commands = p == null ? null
                        : step == DECODE_PHASE_SLOT ? (p.decodePhase == null ? null : List.of(p.decodePhase))
                        : p.nextToken.get(step);
                journal.commands(request, step, commands == null || commands.isEmpty() ? null : commands);
            }
            if (dirtyClock) {
                journal.clock(clockMs, nextCheckMs);
            }
        } finally {
            dirtyRequests.clear();
            dirtySlots.clear();
            dirtyClock = false;
        }
    }

    /** The request's progress, or null when the book holds nothing of it. */
    private RequestProgress progress(String request) {
        Long stamp = lastActive.get(request);
        BitSet steps = emulatedSteps.get(request);
        boolean done = finished.containsKey(request);
        Pending p = pending.get(request);
        Integer last = lastSteps.get(request);
        BitSet used = usedSteps.get(request);
        if (stamp == null && steps == null && !done && p == null && last == null && used == null) {
            return null;
        }
        return new RequestProgress(stamp, steps == null ? null : steps.toLongArray(), done,
                p != null && p.decodePhaseUsed, p != null && p.decodePhaseLate, last,
                used == null ? null : used.toLongArray());
    }

    /**
     * Rebuilds the book from what its journal holds: the clock, every request's progress and every
     * filed command slot (a request's activity order is rebuilt from its stamps).
     */
    public void restore(long clock, long nextCheck, Map<String, RequestProgress> progress,
                        Map<String, Map<Integer, List<PrefetchCommand>>> commands) {
        lastActive.clear();
        pending.clear();
        emulatedSteps.clear();
        lastSteps.clear();
        usedSteps.clear();
        finished.clear();
        pendingCommands = 0;
        clockMs = clock;
        nextCheckMs = nextCheck;
        List<Map.Entry<String, RequestProgress>> open = new ArrayList<>();
        progress.forEach((request, p) -> {
            if (p.finished()) {
                finished.put(request, Boolean.TRUE);
            }
            if (p.emulatedSteps() != null) {
                emulatedSteps.put(request, BitSet.valueOf(p.emulatedSteps()));
            }
            if (p.lastStep() != null) {
                lastSteps.put(request, p.lastStep());
            }
            if (p.usedSteps() != null) {
                usedSteps.put(request, BitSet.valueOf(p.usedSteps()));
            }
            if (p.lastActiveMs() != null) {
                open.add(Map.entry(request, p));
            }
        });
        open.sort(java.util.Comparator.comparingLong(e -> e.getValue().lastActiveMs()));
        open.forEach(e -> lastActive.put(e.getKey(), e.getValue().lastActiveMs()));
        commands.forEach((request, slots) -> slots.forEach((slot, filed) -> {
            Pending p = pending.computeIfAbsent(request, r -> new Pending());
            if (slot == DECODE_PHASE_SLOT) {
                p.decodePhase = filed.get(0);
                RequestProgress rp = progress.get(request);
                p.decodePhaseUsed = rp != null && rp.decodePhaseUsed();
                p.decodePhaseLate = rp != null && rp.decodePhaseLate();
                pendingCommands++;
            } else {
                p.nextToken.put(slot, new ArrayList<>(filed));
                pendingCommands += filed.size();
            }
        }));
        dirtyRequests.clear();
        dirtySlots.clear();
        dirtyClock = false;
    }

    /** A decode-phase plan leaves the book: used if it served a pass, else late or expired. */
    private PrefetchCounts resolveDecodePhase(Pending p) {
        pendingCommands--;
        PrefetchCounts counts = p.decodePhaseUsed ? PrefetchCounts.NONE
                : p.decodePhaseLate ? new PrefetchCounts(0, 1, 0, 0) : new PrefetchCounts(0, 0, 0, 1);
        p.decodePhase = null;
        return counts;
    }

    /** The command's experts, copy-enabled into its tier (LLC: layer-level, HBM: token-level; Insight 2). */
    private static void mark(CopyEnable predicted, PrefetchCommand command) {
        int tier = command.getTier() == MemoryTier.LLC ? CopyEnable.LLC : CopyEnable.HBM;
        for (int i = 0, layers = PrefetchPredictions.layers(command); i < layers; i++) {
            int layer = PrefetchPredictions.layer(command, i);
            for (int j = 0, n = PrefetchPredictions.expertCount(command, i); j < n; j++) {
                predicted.enable(layer, PrefetchPredictions.expert(command, i, j), tier);
            }
        }
    }
}
