package io.expertcast.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class StreamsSettingsTest {

    @Test
    void internalTopicsAreCreatedWithSmallSegmentsSoCompactionRunsInAShortSession() {
        Properties p = StreamsSettings.base("app", "127.0.0.1:9092", Path.of("state"), Map.of());
        assertEquals(16 * 1024 * 1024, p.get("topic.segment.bytes"));
        assertEquals("0.1", p.get("topic.min.cleanable.dirty.ratio"));
        // ... and --property (an override) still wins.
        Properties o = StreamsSettings.base("app", "127.0.0.1:9092", Path.of("state"),
                Map.of("topic.segment.bytes", "1073741824"));
        assertEquals("1073741824", o.get("topic.segment.bytes"));
    }
}
