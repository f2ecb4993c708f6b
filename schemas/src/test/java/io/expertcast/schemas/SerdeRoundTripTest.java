package io.expertcast.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class SerdeRoundTripTest {

    static SelectionEvent event() {
        return SelectionEvent.newBuilder().setModel("llama4-maverick").setRequestId("r1").setStep(0)
                .setPhase(Phase.PREFILL).setTokenOffset(0).setTokenCount(1).setPassId(7).setBatchTokenOffset(0)
                .setNumMoeLayers(2).setTopK(1).setExpertIds(ByteBuffer.wrap(new byte[] {5, 0, 1, 1}))
                .setBenchmark("mmlu").setSubject("anatomy").setLanguage("en").setEventTimeMs(1L).build();
    }

    @Test
    void singleObjectEncodingRoundTrips() {
        var serde = Topics.SELECTIONS.valueSerde();
        byte[] bytes = serde.serializer().serialize("t", event());
        // C3 01 marker, then the 8-byte fingerprint, then the body (Avro single-object encoding).
        assertEquals((byte) 0xC3, bytes[0]);
        assertEquals((byte) 0x01, bytes[1]);
        assertEquals(event(), serde.deserializer().deserialize("t", bytes));
    }

    @Test
    void truncatedBytesFailWithASerializationException() {
        var serde = Topics.SELECTIONS.valueSerde();
        byte[] bytes = serde.serializer().serialize("t", event());
        byte[] truncated = Arrays.copyOf(bytes, bytes.length - 6);
        SerializationException e = assertThrows(SerializationException.class,
                () -> serde.deserializer().deserialize("moe.selections", truncated));
        assertEquals(true, e.getMessage().contains("SelectionEvent"));
    }

    @Test
    void aRecordOfAnotherTypeIsRejected() {
        byte[] pass = Topics.PASSES.valueSerde().serializer().serialize("t",
                new ForwardPass("m", 1L, List.of(new PassEntry("r", 0, 1)), 1, 0, 0L, ""));
        assertThrows(SerializationException.class,
                () -> Topics.SELECTIONS.valueSerde().deserializer().deserialize("t", pass));
    }

    @Test
    void everyTopicHasADistinctName() {
        assertEquals(Topics.ALL.size(), Topics.ALL.stream().map(Topic::name).distinct().count());
        assertArrayEquals(new String[] {"moe.heatmaps", "moe.prediction-tables", "moe.placement",
                    "moe.replay-checkpoints", "moe.attach-checkpoints"},
                Topics.ALL.stream().filter(Topic::compacted).map(Topic::name).toArray());
    }
}
