package io.expertcast.replayer;

import io.expertcast.schemas.InFlightRequest;
import io.expertcast.schemas.ReplayCheckpoint;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.connect.LatestByKey;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import io.expertcast.streams.pass.BatchScheduler;

/**
 * The position of a named replay on moe.replay-checkpoints. It is written inside the producer's
 * transaction together with the passes it covers, and read back with read_committed, so after a
 * crash the last committed checkpoint and the committed selections agree: a resume sends each step
 * of each request exactly once (what the crash left uncommitted is aborted when the resumed replay's
 * producer, with the same transactional id, starts).
 */
final class ReplayCheckpoints {
    private final String replayId;
    private final String sources;
    private final String sourceId;
    private final ReplayCheckpoint last;

    ReplayCheckpoints(String bootstrap, Map<String, Object> clientProperties, String replayId, String sources,
                      String sourceId) {
        this.replayId = replayId;
        this.sources = sources;
        this.sourceId = sourceId;
        this.last = read(bootstrap, clientProperties, replayId);
        if (last != null && !last.getSources().equals(sources)) {
            throw new IllegalArgumentException("replay id " + replayId + " was a replay of " + last.getSources()
                    + ", not of " + sources + "; use another --replay-id");
        }
        // A resume under another source id would split one replay's requests and passes into two sources.
        if (last != null && !last.getSource().isEmpty() && !last.getSource().equals(sourceId)) {
            throw new IllegalArgumentException("replay id " + replayId + " was started with source id "
                    + last.getSource() + ", not " + sourceId + "; resume it with --source " + last.getSource());
        }
    }

    /** Where to pick up: nothing sent yet, or the last committed position. */
    BatchScheduler.Resume resume() {
        if (last == null) {
            return BatchScheduler.Resume.NONE;
        }
        Map<Long, Integer> inFlight = new HashMap<>();
        for (InFlightRequest r : last.getInFlight()) {
            inFlight.put(r.getIndex(), r.getNextStep());
        }
        return new BatchScheduler.Resume(last.getNextRequest(), last.getNextPassId(), inFlight);
    }

    /** Requests a resumed replay already finished before (0 for a new one). */
    long finishedBefore() {
        return last == null ? 0 : last.getRequestsFinished();
    }

    boolean wasComplete() {
        return last != null && last.getComplete();
    }

    /** What a named replay found, for its summary: null for a new one. */
    String resumeNote() {
        if (last == null) {
            return null;
        }
        if (last.getComplete()) {
            return "replay " + replayId + " had completed before (" + last.getRequestsFinished()
                    + " requests): nothing left to send";
        }
        return "resumed replay " + replayId + ": " + last.getRequestsFinished() + " requests had finished before, "
                + last.getInFlight().size() + " were in flight; continuing at request " + last.getNextRequest()
                + " and pass " + last.getNextPassId();
    }

    /** Adds the checkpoint to the open transaction and commits it. */
    void commit(KafkaProducer<byte[], byte[]> producer, BatchScheduler.Position position, long finished,
                boolean complete) {
        List<InFlightRequest> inFlight = new ArrayList<>();
        position.inFlight().forEach((index, step) -> inFlight.add(new InFlightRequest(index, step)));
        ReplayCheckpoint checkpoint = new ReplayCheckpoint(replayId, sources, position.nextRequest(),
                position.nextPassId(), inFlight, finished, complete, System.currentTimeMillis(), sourceId);
        producer.send(new ProducerRecord<>(Topics.REPLAY_CHECKPOINTS.name(), replayId.getBytes(StandardCharsets.UTF_8),
                Topics.REPLAY_CHECKPOINTS.valueSerde().serializer().serialize(Topics.REPLAY_CHECKPOINTS.name(),
                        checkpoint)));
        producer.commitTransaction();
    }

    /** The last committed checkpoint of a replay id, read to the end of the topic; null if none. */
    private static ReplayCheckpoint read(String bootstrap, Map<String, Object> clientProperties, String replayId) {
        return LatestByKey.read(bootstrap, clientProperties, Topics.REPLAY_CHECKPOINTS,
                replayId.getBytes(StandardCharsets.UTF_8));
    }
}
