package io.expertcast.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.ByteBuffer;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.Test;

/** The source id (SelectionEvent v2, ForwardPass v2, AllocationPlan v2): old records read as the empty source. */
class SourceIdentityTest {

    @Test
    void aSelectionEventWrittenWithV1ReadsAsTheEmptySource() throws Exception {
        Schema v1 = ReleasedSchemas.versionsOf(SelectionEvent.getClassSchema().getFullName()).get(0);
        GenericRecord old = new GenericData.Record(v1);
        old.put("model", "llama4-maverick");
        old.put("requestId", "r1");
        old.put("step", 0);
        old.put("phase", new GenericData.EnumSymbol(v1.getField("phase").schema(), "PREFILL"));
        old.put("tokenOffset", 0);
        old.put("tokenCount", 1);
        old.put("passId", 7L);
        old.put("batchTokenOffset", 0);
        old.put("numMoeLayers", 1);
        old.put("topK", 1);
        old.put("expertIds", ByteBuffer.wrap(new byte[] {5, 0}));
        old.put("lastStep", false);
        old.put("eventTimeMs", 1L);
        ByteBuffer bytes = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(old);
        byte[] raw = new byte[bytes.remaining()];
        bytes.get(raw);
        SelectionEvent read = Topics.SELECTIONS.valueSerde().deserializer().deserialize("moe.selections", raw);
        assertEquals("", read.getSource());
        assertEquals("r1", read.getRequestId());
    }

    @Test
    void aForwardPassWrittenWithV1ReadsAsTheEmptySource() throws Exception {
        Schema v1 = ReleasedSchemas.versionsOf(ForwardPass.getClassSchema().getFullName()).get(0);
        GenericRecord old = new GenericData.Record(v1);
        old.put("model", "m");
        old.put("passId", 3L);
        Schema entry = v1.getField("entries").schema().getElementType();
        GenericRecord e = new GenericData.Record(entry);
        e.put("requestId", "r");
        e.put("step", 0);
        e.put("tokenCount", 1);
        old.put("entries", List.of(e));
        old.put("totalTokens", 1);
        old.put("decodeTokens", 0);
        old.put("eventTimeMs", 0L);
        ByteBuffer bytes = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(old);
        byte[] raw = new byte[bytes.remaining()];
        bytes.get(raw);
        assertEquals("", Topics.PASSES.valueSerde().deserializer().deserialize("moe.passes", raw).getSource());
    }

    @Test
    void keysOfTheEmptySourceAreTheKeysBeforeSources() {
        assertEquals(Topics.passKey("m", 12), Topics.passKey("m", "", 12));
        assertEquals("m/replay-a/000000000012", Topics.passKey("m", "replay-a", 12));
        assertEquals("r1", Topics.requestKey("", "r1"));
        assertEquals("replay-a/r1", Topics.requestKey("replay-a", "r1"));
    }

    @Test
    void aSourceIdCannotHoldTheKeySeparator() {
        assertNull(Topics.sourceProblem(""));
        assertNull(Topics.sourceProblem("engine-3.node_7:8000@eu"));
        assertNotNull(Topics.sourceProblem("a/b"));
        assertNotNull(Topics.sourceProblem("x".repeat(Topics.MAX_SOURCE_LENGTH + 1)));
    }
}
