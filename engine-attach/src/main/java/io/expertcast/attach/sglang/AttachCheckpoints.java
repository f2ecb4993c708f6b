package io.expertcast.attach.sglang;

import io.expertcast.schemas.AttachCheckpoint;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.connect.LatestByKey;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The last committed {@link AttachCheckpoint} of a source on moe.attach-checkpoints. Written in the
 * producer's transaction with the windows it lists and read back read_committed, so after a crash
 * the checkpoint and the published selections agree.
 */
final class AttachCheckpoints {
    private AttachCheckpoints() {
    }

    /** The last committed checkpoint of a source, read to the end of the topic; null if none. */
    static AttachCheckpoint read(String bootstrap, Map<String, Object> clientProperties, String sourceId) {
        return LatestByKey.read(bootstrap, clientProperties, Topics.ATTACH_CHECKPOINTS,
                sourceId.getBytes(StandardCharsets.UTF_8));
    }
}
