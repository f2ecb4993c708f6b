package io.expertcast.predictor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.apache.kafka.streams.processor.api.Record;

/**
 * The request side's batches between hand-ons: the scores ({@link ScoreSums}, key model) and the heatmap
 * lessons ({@link SelectionBatches}, key model/shard) of the events processed since the batches were last
 * forwarded, made durable: what each event added is encoded ({@link PendingLessons}) and written to the
 * {@link PendingBatchesStore} just before every commit, in its transaction, until a hand-on voids it (a new
 * generation). A task that restarts after a crash rebuilds the batches from the store, so they hold exactly
 * what the committed input offsets say: a crash neither loses nor doubles a lesson or a score.
 */
final class DurableBatches {
    private final ScoreSums scores = new ScoreSums();
    private final SelectionBatches selections = new SelectionBatches();
    private final PendingBatchesStore store;
    private long timestamp = Long.MIN_VALUE; // the newest record timestamp in the batches
    private final List<byte[]> unwritten = new ArrayList<>(); // events since the last commit, encoded
    private long generation;                 // of the batches (PendingLessons.GENERATION)
    private boolean generationChanged;       // bumped since the last commit
    private long nextChunk;                  // the store key of the next commit's events
    /** What the event being processed adds. */
    private PendingLessons.Selection eventSelection;
    private final List<PendingLessons.Score> eventScores = new ArrayList<>(3);

    /** The batches as the task's last commit left them in {@code store}; they are written there before every commit. */
    DurableBatches(PendingBatchesStore store) {
        this.store = store;
        restore();
        store.beforeCommit(this::write);
    }

    /** An event's lesson for the global heatmaps, from a record with {@code recordTimestamp}. */
    void add(PendingLessons.Selection selection, long recordTimestamp) {
        selections.add(selection.model(), selection.layers(), selection.experts(), selection.k(), selection.shards(),
                selection.previous(), selection.ids(), selection.eventTimeMs());
        eventSelection = selection;
        timestamp = Math.max(timestamp, recordTimestamp);
    }

    /** One of an event's scores, from a record with {@code recordTimestamp}. */
    void add(PendingLessons.Score score, long recordTimestamp) {
        scores.add(score.model(), score.predictor(), score.tag(), score.n(), score.k(), score.layerHits(),
                score.layerPredicted(), score.requests(), score.spearman(), score.eventTimeMs());
        eventScores.add(score);
        timestamp = Math.max(timestamp, recordTimestamp);
    }

    /**
     * The event is processed: what it added is written before the next commit ({@code durable}), or (a
     * hand-on follows at once, {@code durable} false) forgotten.
     */
    void endEvent(long recordTimestamp, boolean durable) {
        if (durable && (eventSelection != null || !eventScores.isEmpty())) {
            unwritten.add(PendingLessons.encode(new PendingLessons.Event(generation, recordTimestamp, eventSelection,
                    List.copyOf(eventScores))));
        }
        eventSelection = null;
        eventScores.clear();
    }

    /**
     * Everything batched, downstream: the summed scores (key model) and the packed lessons (key model/shard),
     * stamped with the newest record timestamp among them; the batches are then empty, and the next commit voids
     * what the store holds of them.
     */
    void handOn(Consumer<Record<String, ForecastOutput>> forward) {
        if (timestamp == Long.MIN_VALUE) {
            return;
        }
        for (var score : scores.drain()) {
            forward.accept(new Record<>(score.getModel(), ForecastOutput.score(score), timestamp));
        }
        for (var batch : selections.drain()) {
            forward.accept(new Record<>(batch.key, ForecastOutput.layerSelections(batch.value), timestamp));
        }
        timestamp = Long.MIN_VALUE;
        unwritten.clear();
        generation++;
        generationChanged = true;
        nextChunk = 0;
    }

    /** Before each commit, in its transaction: the generation if it moved, and the events since the last. */
    private void write() {
        if (generationChanged) {
            store.put(PendingLessons.GENERATION, PendingLessons.generation(generation));
            generationChanged = false;
        }
        if (!unwritten.isEmpty()) {
            for (List<byte[]> chunk : PendingLessons.chunks(unwritten, PendingLessons.MAX_CHUNK_BYTES)) {
                store.put(nextChunk++, PendingLessons.join(generation, chunk));
            }
            unwritten.clear();
        }
    }

    /** Every event the store holds of the current generation (committed since the last hand-on), added back. */
    private void restore() {
        generation = PendingLessons.generation(store.get(PendingLessons.GENERATION));
        long chunk = 0;
        for (byte[] joined; (joined = store.get(chunk)) != null
                && PendingLessons.generationOf(joined) == generation; chunk++) {
            for (byte[] bytes : PendingLessons.split(joined)) {
                PendingLessons.Event event = PendingLessons.decode(bytes);
                event.addTo(selections, scores);
                timestamp = Math.max(timestamp, event.timestamp());
            }
        }
        nextChunk = chunk;
    }
}
