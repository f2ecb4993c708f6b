package io.expertcast.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.util.RandomData;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.junit.jupiter.api.Test;

/**
 * The serde against Avro's own BinaryMessageEncoder/BinaryMessageDecoder, which it replaced on the
 * hot path (issue 4): the same bytes for every record type, the same records from every released
 * writer version, the same errors on bad bytes, and correct results when threads share it.
 */
class SingleObjectSerdeFactoryTest {

    private static final int RANDOM_RECORDS = 40;

    /** The serde as it was before issue 4: Avro's message encoder and decoder, used as the reference. */
    static final class Reference<T extends SpecificRecord> {
        final String name;
        final BinaryMessageEncoder<T> encoder;
        final BinaryMessageDecoder<T> decoder;

        private static final Map<Class<?>, Reference<?>> BY_TYPE = new ConcurrentHashMap<>();

        @SuppressWarnings("unchecked")
        static <T extends SpecificRecord> Reference<T> of(Class<T> type) {
            return (Reference<T>) BY_TYPE.computeIfAbsent(type, t -> new Reference<>(type));
        }

        private Reference(Class<T> type) {
            SpecificData data = SpecificData.getForClass(type);
            Schema schema = data.getSchema(type);
            this.name = schema.getName();
            this.encoder = new BinaryMessageEncoder<>(data, schema);
            this.decoder = new BinaryMessageDecoder<>(data, schema);
            for (Schema released : ReleasedSchemas.versionsOf(schema.getFullName())) {
                decoder.addSchema(released);
            }
        }

        byte[] serialize(T value) throws IOException {
            ByteBuffer buffer = encoder.encode(value);
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            return bytes;
        }

        T deserialize(String topic, byte[] bytes) {
            try {
                return decoder.decode(bytes);
            } catch (IOException | RuntimeException e) {
                throw new SerializationException("cannot decode " + name + " from " + bytes.length
                        + " bytes on topic " + topic + ": " + e, e);
            }
        }
    }

    /** A DeepSeek-shaped decode event: one token, 58 MoE layers, top-8. */
    static SelectionEvent selectionEvent(Random random) {
        ByteBuffer ids = ByteBuffer.allocate(58 * 8 * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 58 * 8; i++) {
            ids.putShort((short) random.nextInt(256));
        }
        ids.flip();
        return SelectionEvent.newBuilder().setModel("deepseek-v3").setRequestId("r" + random.nextInt(1000))
                .setStep(1 + random.nextInt(500)).setPhase(Phase.DECODE).setTokenOffset(0).setTokenCount(1)
                .setPassId(random.nextInt(1 << 20)).setBatchTokenOffset(random.nextInt(256)).setNumMoeLayers(58)
                .setTopK(8).setExpertIds(ids).setBenchmark("mmlu").setSubject("anatomy").setLanguage(null)
                .setEventTimeMs(1_700_000_000_000L + random.nextInt(1 << 30)).build();
    }

    static PrefetchCommand prefetchCommand(Random random) {
        List<LayerPrediction> layers = new ArrayList<>();
        for (int layer = 0; layer < 58; layer++) {
            List<Integer> experts = new ArrayList<>();
            List<Double> scores = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                experts.add(random.nextInt(256));
                scores.add(random.nextDouble());
            }
            layers.add(new LayerPrediction(layer, experts, scores));
        }
        return new PrefetchCommand("deepseek-v3", "r" + random.nextInt(1000), PrefetchScope.NEXT_TOKEN,
                random.nextInt(500), MemoryTier.LLC, layers, (long) random.nextInt(1 << 20), 1_700_000_000_000L, 0,
                java.nio.ByteBuffer.allocate(0), java.nio.ByteBuffer.allocate(0));
    }

    /** A dense heatmap: {@code rows} rows of {@code cells} weighted targets each. */
    static HeatmapSnapshot heatmap(Random random, int rows, int cells) {
        List<HeatmapRow> list = new ArrayList<>(rows);
        for (int expert = 0; expert < rows; expert++) {
            List<Integer> targets = new ArrayList<>(cells);
            List<Double> weights = new ArrayList<>(cells);
            for (int t = 0; t < cells; t++) {
                targets.add(t);
                weights.add(random.nextDouble() * 100);
            }
            list.add(new HeatmapRow(expert, targets, weights));
        }
        return new HeatmapSnapshot("deepseek-v3", 3, HeatmapKind.TOKEN_TO_TOKEN, rows, list, 12345.5, null, 1L,
                java.nio.ByteBuffer.wrap(new byte[0]), java.nio.ByteBuffer.wrap(new byte[0]), -1, -1L);
    }

    static PredictorMetrics predictorMetrics(Random random) {
        List<Long> longs = new ArrayList<>();
        List<Double> doubles = new ArrayList<>();
        for (int layer = 0; layer < 58; layer++) {
            longs.add((long) random.nextInt(100_000));
            doubles.add(layer == 7 ? Double.NaN : random.nextDouble());
        }
        return PredictorMetrics.newBuilder().setModel("deepseek-v3").setPredictor("decode_plan").setN(16)
                .setSamples(1000L).setHits(700L).setSelected(8000L).setRecall(0.0875).setRequests(12L)
                .setTag("mmlu").setLayerHits(longs).setLayerPredicted(longs).setLayerHitSamples(longs)
                .setLayerRecall(doubles).setLayerSpearmanSum(doubles).setLayerSpearmanRequests(longs)
                .setLayerSpearman(doubles).setEventTimeMs(2L).build();
    }

    static LayerSelections layerSelections(Random random) {
        List<LayerTokens> layers = new ArrayList<>();
        for (int layer = 0; layer < 58; layer++) {
            List<Integer> previous = new ArrayList<>();
            List<Integer> tokens = new ArrayList<>();
            List<Integer> next = new ArrayList<>();
            for (int k = 0; k < 8; k++) {
                previous.add(random.nextInt(256));
                tokens.add(random.nextInt(256));
                next.add(random.nextInt(256));
            }
            layers.add(new LayerTokens(layer, previous, tokens, layer == 57 ? List.of() : next, List.of()));
        }
        return new LayerSelections("deepseek-v3", 256, 8, layers, List.of("s:mmlu/anatomy", "b:mmlu"), 3L,
                java.nio.ByteBuffer.wrap(new byte[0]));
    }

    /** The generated class of every current schema (one per file in src/main/avro). */
    static List<Class<? extends SpecificRecord>> recordClasses() throws Exception {
        List<Class<? extends SpecificRecord>> classes = new ArrayList<>();
        for (Schema schema : SchemaCompatibilityTest.currentSchemas()) {
            classes.add(Class.forName(schema.getFullName()).asSubclass(SpecificRecord.class));
        }
        return classes;
    }

    /** Random records of {@code type}: random generic data of its schema, read back as the specific class. */
    static <T extends SpecificRecord> List<T> randomRecords(Class<T> type, long seed) throws IOException {
        Schema schema = SpecificData.getForClass(type).getSchema(type);
        List<T> records = new ArrayList<>();
        for (Object generic : new RandomData(schema, RANDOM_RECORDS, seed)) {
            byte[] body = genericBody(schema, generic);
            records.add(new SpecificDatumReader<T>(schema).read(null,
                    DecoderFactory.get().binaryDecoder(body, null)));
        }
        return records;
    }

    private static byte[] genericBody(Schema schema, Object datum) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<>(schema).write(datum, encoder);
        encoder.flush();
        return out.toByteArray();
    }

    private static <T extends SpecificRecord> Serde<T> serde(Class<T> type) {
        return SerdeFactory.defaultFactory().serde(type);
    }

    private static <T extends SpecificRecord> void assertSameBytesAndRoundTrip(Class<T> type, T record)
            throws IOException {
        byte[] expected = Reference.of(type).serialize(record);
        byte[] actual = serde(type).serializer().serialize("t", record);
        assertArrayEquals(expected, actual, type.getSimpleName());
        assertEquals(record, serde(type).deserializer().deserialize("t", actual), type.getSimpleName());
    }

    @Test
    void theHotRecordsSerializeToTheBytesOfAvrosMessageEncoder() throws IOException {
        Random random = new Random(4);
        for (int i = 0; i < 5; i++) {
            assertSameBytesAndRoundTrip(SelectionEvent.class, selectionEvent(random));
            assertSameBytesAndRoundTrip(PrefetchCommand.class, prefetchCommand(random));
            assertSameBytesAndRoundTrip(PredictorMetrics.class, predictorMetrics(random));
            assertSameBytesAndRoundTrip(LayerSelections.class, layerSelections(random));
        }
        // 256 x 256 cells is larger than the initial per-thread array; 512 x 512 past the retained size.
        assertSameBytesAndRoundTrip(HeatmapSnapshot.class, heatmap(random, 256, 256));
        assertSameBytesAndRoundTrip(HeatmapSnapshot.class, heatmap(random, 512, 512));
        assertSameBytesAndRoundTrip(HeatmapSnapshot.class, heatmap(random, 2, 3));
        assertSameBytesAndRoundTrip(SelectionEvent.class, selectionEvent(random));
    }

    @Test
    void everyRecordTypeSerializesToTheBytesOfAvrosMessageEncoder() throws Exception {
        List<Class<? extends SpecificRecord>> classes = recordClasses();
        assertTrue(classes.size() >= 20, "record classes: " + classes);
        for (Class<? extends SpecificRecord> type : classes) {
            checkRandomRecords(type);
        }
    }

    private static <T extends SpecificRecord> void checkRandomRecords(Class<T> type) throws IOException {
        for (T record : randomRecords(type, type.getName().hashCode())) {
            assertSameBytesAndRoundTrip(type, record);
        }
    }

    @Test
    void everyReleasedWriterVersionDecodesAsAvrosMessageDecoderDecodesIt() throws Exception {
        int versions = 0;
        for (Class<? extends SpecificRecord> type : recordClasses()) {
            versions += checkReleasedVersions(type);
        }
        // Some records have several releases (PredictorMetrics v1-v3, WaferMetrics v1-v3, ...).
        assertTrue(versions > recordClasses().size(), "released versions checked: " + versions);
    }

    private static <T extends SpecificRecord> int checkReleasedVersions(Class<T> type) throws IOException {
        Reference<T> reference = Reference.of(type);
        Schema current = SpecificData.getForClass(type).getSchema(type);
        List<Schema> released = ReleasedSchemas.versionsOf(current.getFullName());
        assertFalse(released.isEmpty(), type.getSimpleName() + " has no release");
        for (int v = 0; v < released.size(); v++) {
            Schema writer = released.get(v);
            BinaryMessageEncoder<Object> oldEncoder = new BinaryMessageEncoder<>(GenericData.get(), writer);
            for (Object old : new RandomData(writer, RANDOM_RECORDS, 31L * v + type.getName().hashCode())) {
                ByteBuffer buffer = oldEncoder.encode(old);
                byte[] bytes = new byte[buffer.remaining()];
                buffer.get(bytes);
                T expected = reference.deserialize("t", bytes);
                T actual = serde(type).deserializer().deserialize("t", bytes);
                assertNotNull(actual);
                assertEquals(expected, actual, type.getSimpleName() + " v" + (v + 1));
            }
        }
        return released.size();
    }

    /** The outcome of decoding: the record, or the exception's class and message. */
    private static <T extends SpecificRecord> String outcome(Callable<T> decode) {
        try {
            return "record " + decode.call();
        } catch (Exception e) {
            return e.getClass().getName() + ": " + e.getMessage();
        }
    }

    private static <T extends SpecificRecord> void assertSameOutcome(Class<T> type, byte[] bytes, String what) {
        Reference<T> reference = Reference.of(type);
        String expected = outcome(() -> reference.deserialize("moe.topic", bytes));
        String actual = outcome(() -> serde(type).deserializer().deserialize("moe.topic", bytes));
        assertEquals(expected, actual, what);
    }

    @Test
    void badHeadersFailWithTheMessagesOfAvrosMessageDecoder() throws IOException {
        byte[] good = serde(SelectionEvent.class).serializer().serialize("t", selectionEvent(new Random(1)));
        byte[] badMarker = good.clone();
        badMarker[1] = 0x02;
        byte[] unknownFingerprint = good.clone();
        unknownFingerprint[5] ^= 0x40;
        byte[] otherType = serde(PrefetchCommand.class).serializer().serialize("t", prefetchCommand(new Random(1)));
        for (byte[] bytes : List.of(new byte[0], Arrays.copyOf(good, 9), badMarker, unknownFingerprint, otherType)) {
            SerializationException e = assertThrows(SerializationException.class,
                    () -> serde(SelectionEvent.class).deserializer().deserialize("moe.topic", bytes));
            assertTrue(e.getMessage().startsWith("cannot decode SelectionEvent from " + bytes.length
                    + " bytes on topic moe.topic: org.apache.avro.message."), e.getMessage());
            assertSameOutcome(SelectionEvent.class, bytes, Arrays.toString(Arrays.copyOf(bytes, 10)));
        }
    }

    @Test
    void everyTruncationFailsAsWithAvrosMessageDecoder() {
        Random random = new Random(2);
        checkTruncations(SelectionEvent.class, selectionEvent(random));
        checkTruncations(PrefetchCommand.class, prefetchCommand(random));
        checkTruncations(PredictorMetrics.class, predictorMetrics(random));
        checkTruncations(LayerSelections.class, layerSelections(random));
        checkTruncations(HeatmapSnapshot.class, heatmap(random, 16, 16));
    }

    private static <T extends SpecificRecord> void checkTruncations(Class<T> type, T record) {
        byte[] bytes = serde(type).serializer().serialize("t", record);
        // every cut within the header and the first fields, then every 13th byte, and the last byte
        List<Integer> lengths = new ArrayList<>();
        for (int length = 0; length < bytes.length - 1; length += length < 400 ? 1 : 13) {
            lengths.add(length);
        }
        lengths.add(bytes.length - 1);
        for (int length : lengths) {
            byte[] truncated = Arrays.copyOf(bytes, length);
            assertThrows(SerializationException.class,
                    () -> serde(type).deserializer().deserialize("moe.topic", truncated));
            assertSameOutcome(type, truncated, type.getSimpleName() + " cut to " + length + " bytes");
        }
    }

    @Test
    void trailingBytesAndCorruptBodiesBehaveAsWithAvrosMessageDecoder() {
        Random random = new Random(3);
        SelectionEvent event = selectionEvent(random);
        byte[] bytes = serde(SelectionEvent.class).serializer().serialize("t", event);
        // Like BinaryMessageDecoder, the reader stops at the end of the record: trailing bytes are not read.
        byte[] trailing = Arrays.copyOf(bytes, bytes.length + 3);
        assertEquals(event, serde(SelectionEvent.class).deserializer().deserialize("t", trailing));
        assertSameOutcome(SelectionEvent.class, trailing, "trailing bytes");
        List<Object[]> samples = List.of(
                new Object[] {SelectionEvent.class, bytes},
                new Object[] {PrefetchCommand.class, serde(PrefetchCommand.class).serializer().serialize("t", prefetchCommand(random))},
                new Object[] {HeatmapSnapshot.class, serde(HeatmapSnapshot.class).serializer().serialize("t", heatmap(random, 8, 8))},
                new Object[] {PredictorMetrics.class, serde(PredictorMetrics.class).serializer().serialize("t", predictorMetrics(random))});
        for (Object[] sample : samples) {
            @SuppressWarnings("unchecked")
            Class<SpecificRecord> type = (Class<SpecificRecord>) sample[0];
            byte[] good = (byte[]) sample[1];
            for (int trial = 0; trial < 300; trial++) {
                byte[] corrupt = good.clone();
                for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
                    corrupt[10 + random.nextInt(corrupt.length - 10)] = (byte) random.nextInt(256);
                }
                assertSameOutcome(type, corrupt, type.getSimpleName() + " corrupted, trial " + trial);
            }
        }
    }

    @Test
    void aFailedWriteLeavesNothingBehindForTheNextRecord() throws IOException {
        SelectionEvent good = selectionEvent(new Random(5));
        SelectionEvent broken = SelectionEvent.newBuilder(good).build();
        broken.setExpertIds(null); // the eleventh field: the first ten are already in the encoder's buffer
        Reference<SelectionEvent> reference = Reference.of(SelectionEvent.class);
        RuntimeException expected = assertThrows(RuntimeException.class, () -> reference.serialize(broken));
        RuntimeException actual = assertThrows(RuntimeException.class,
                () -> serde(SelectionEvent.class).serializer().serialize("t", broken));
        assertEquals(expected.getClass(), actual.getClass());
        assertEquals(expected.getMessage(), actual.getMessage());
        assertArrayEquals(reference.serialize(good), serde(SelectionEvent.class).serializer().serialize("t", good));
    }

    @Test
    void threadsSharingTheSerdeGetCorrectRecords() throws Exception {
        int threads = 6;
        int rounds = 200;
        Random random = new Random(6);
        List<SpecificRecord> records = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            records.add(selectionEvent(random));
            records.add(prefetchCommand(random));
            records.add(predictorMetrics(random));
            records.add(layerSelections(random));
        }
        records.add(heatmap(random, 64, 64));
        records.add(heatmap(random, 400, 400)); // past the retained size: the array is dropped mid-run
        List<byte[]> expected = new ArrayList<>();
        for (SpecificRecord r : records) {
            expected.add(referenceBytes(r));
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int seed = t;
                results.add(pool.submit(() -> {
                    Random order = new Random(seed);
                    start.await();
                    int checked = 0;
                    for (int round = 0; round < rounds; round++) {
                        int i = order.nextInt(records.size());
                        SpecificRecord record = records.get(i);
                        byte[] bytes = serializeAs(record);
                        assertArrayEquals(expected.get(i), bytes, record.getSchema().getName());
                        assertEquals(record, deserializeAs(record, bytes));
                        checked++;
                    }
                    return checked;
                }));
            }
            start.countDown();
            for (Future<Integer> result : results) {
                assertEquals(rounds, result.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends SpecificRecord> byte[] referenceBytes(T record) throws IOException {
        return Reference.of((Class<T>) record.getClass()).serialize(record);
    }

    @SuppressWarnings("unchecked")
    private static <T extends SpecificRecord> byte[] serializeAs(T record) {
        return serde((Class<T>) record.getClass()).serializer().serialize("t", record);
    }

    @SuppressWarnings("unchecked")
    private static <T extends SpecificRecord> T deserializeAs(T record, byte[] bytes) {
        return serde((Class<T>) record.getClass()).deserializer().deserialize("t", bytes);
    }
}
