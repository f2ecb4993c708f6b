package io.expertcast.bench;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.HeatmapKind;
import io.expertcast.schemas.HeatmapRow;
import io.expertcast.schemas.HeatmapSnapshot;
import io.expertcast.schemas.LayerPrediction;
import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.ReleasedSchemas;
import io.expertcast.schemas.RequestForecastState;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.SerdeFactory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.apache.avro.Schema;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * One value serialized and deserialized by the project's serde ({@link SerdeFactory#defaultFactory()})
 * and, as the baseline, by Avro's {@code BinaryMessageEncoder}/{@code BinaryMessageDecoder} set up the
 * way the serde was before issue 4 (the same bytes either way). DeepSeek-V3-shaped records of the
 * predictor's hot path: a decode {@code SelectionEvent} (58 MoE layers x top-8), a
 * {@code PrefetchCommand} of 58 layers x n = 8, a dense 256 x 256 {@code HeatmapSnapshot}, and the
 * predictor's per-request {@code RequestForecastState} (58 x 256 counts and history).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SerdeBenchmark {
    private static final ModelShape MODEL = ModelCatalog.DEEPSEEK_V3;
    /** The records {@link #sample} makes, as in {@link #record}'s parameter list. */
    static final List<String> RECORDS = List.of("SelectionEvent", "PrefetchCommand", "HeatmapSnapshot", "RequestForecastState");

    @Param({"SelectionEvent", "PrefetchCommand", "HeatmapSnapshot", "RequestForecastState"})
    public String record;

    private SpecificRecord value;
    private byte[] bytes;
    private Serializer<SpecificRecord> serializer;
    private Deserializer<SpecificRecord> deserializer;
    private BinaryMessageEncoder<SpecificRecord> avroEncoder;
    private BinaryMessageDecoder<SpecificRecord> avroDecoder;

    @Setup
    @SuppressWarnings("unchecked")
    public void setUp() {
        value = sample(record);
        Class<SpecificRecord> type = (Class<SpecificRecord>) value.getClass();
        Serde<SpecificRecord> serde = SerdeFactory.defaultFactory().serde(type);
        serializer = serde.serializer();
        deserializer = serde.deserializer();
        SpecificData data = SpecificData.getForClass(type);
        Schema schema = data.getSchema(type);
        avroEncoder = new BinaryMessageEncoder<>(data, schema);
        avroDecoder = new BinaryMessageDecoder<>(data, schema);
        for (Schema released : ReleasedSchemas.versionsOf(schema.getFullName())) {
            avroDecoder.addSchema(released);
        }
        bytes = serializer.serialize("bench", value);
    }

    /** Size of the single-object encoding of the sample record of this name. */
    @SuppressWarnings("unchecked")
    static int encodedBytes(String name) {
        SpecificRecord value = sample(name);
        return SerdeFactory.defaultFactory().serde((Class<SpecificRecord>) value.getClass()).serializer()
                .serialize("bench", value).length;
    }

    @Benchmark
    public byte[] serializeAvroMessage() throws IOException {
        ByteBuffer buffer = avroEncoder.encode(value);
        byte[] out = new byte[buffer.remaining()];
        buffer.get(out);
        return out;
    }

    @Benchmark
    public byte[] serializeSingleObject() {
        return serializer.serialize("bench", value);
    }

    @Benchmark
    public SpecificRecord deserializeAvroMessage() throws IOException {
        return avroDecoder.decode(bytes);
    }

    @Benchmark
    public SpecificRecord deserializeSingleObject() {
        return deserializer.deserialize("bench", bytes);
    }

    /** The benchmark's record of this name, DeepSeek-V3-shaped, from a fixed seed. */
    static SpecificRecord sample(String name) {
        SplittableRandom random = new SplittableRandom(4);
        return switch (name) {
            case "SelectionEvent" -> selectionEvent(random);
            case "PrefetchCommand" -> prefetchCommand(random);
            case "HeatmapSnapshot" -> heatmap(random);
            case "RequestForecastState" -> forecastState(random);
            default -> throw new IllegalArgumentException("no sample record " + name);
        };
    }

    private static SelectionEvent selectionEvent(SplittableRandom random) {
        ByteBuffer ids = ByteBuffer.allocate(MODEL.numMoeLayers() * MODEL.topK() * 2).order(ByteOrder.LITTLE_ENDIAN);
        while (ids.hasRemaining()) {
            ids.putShort((short) random.nextInt(MODEL.numExperts()));
        }
        ids.flip();
        return SelectionEvent.newBuilder().setModel(MODEL.id()).setRequestId("mmlu/anatomy/17").setStep(12)
                .setPhase(Phase.DECODE).setTokenOffset(0).setTokenCount(1).setPassId(123_456).setBatchTokenOffset(97)
                .setNumMoeLayers(MODEL.numMoeLayers()).setTopK(MODEL.topK()).setExpertIds(ids)
                .setBenchmark("mmlu").setSubject("anatomy").setLanguage("en").setEventTimeMs(1_760_000_000_000L)
                .build();
    }

    private static PrefetchCommand prefetchCommand(SplittableRandom random) {
        List<LayerPrediction> layers = new ArrayList<>();
        for (int layer = 0; layer < MODEL.numMoeLayers(); layer++) {
            layers.add(new LayerPrediction(layer, ints(random, 8, MODEL.numExperts()), doubles(random, 8)));
        }
        return new PrefetchCommand(MODEL.id(), "mmlu/anatomy/17", PrefetchScope.NEXT_TOKEN, 13, MemoryTier.HBM,
                layers, 123_456L, 1_760_000_000_000L, 0, java.nio.ByteBuffer.allocate(0),
                java.nio.ByteBuffer.allocate(0));
    }

    private static HeatmapSnapshot heatmap(SplittableRandom random) {
        List<HeatmapRow> rows = new ArrayList<>();
        for (int expert = 0; expert < MODEL.numExperts(); expert++) {
            List<Integer> targets = new ArrayList<>();
            for (int t = 0; t < MODEL.numExperts(); t++) {
                targets.add(t);
            }
            rows.add(new HeatmapRow(expert, targets, doubles(random, MODEL.numExperts())));
        }
        // The rows layout (every kind up to v2, popularity still): the worst case for a reader.
        return new HeatmapSnapshot(MODEL.id(), 3, HeatmapKind.TOKEN_TO_TOKEN, MODEL.numExperts(), rows, 65_536.0,
                null, 1_760_000_000_000L, java.nio.ByteBuffer.wrap(new byte[0]), java.nio.ByteBuffer.wrap(new byte[0]), -1, -1L);
    }

    private static RequestForecastState forecastState(SplittableRandom random) {
        int layers = MODEL.numMoeLayers();
        int cells = layers * MODEL.numExperts();
        ByteBuffer counts = ByteBuffer.allocate(cells * 4).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer decayed = ByteBuffer.allocate(cells * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < cells; i++) {
            counts.putInt(random.nextInt(20));
            decayed.putDouble(random.nextDouble() * 4);
        }
        counts.flip();
        decayed.flip();
        List<List<Integer>> planned = new ArrayList<>();
        for (int layer = 0; layer < layers; layer++) {
            planned.add(ints(random, 8, MODEL.numExperts()));
        }
        return RequestForecastState.newBuilder().setModel(MODEL.id()).setRequestId("mmlu/anatomy/17")
                .setPrefillTokens(180).setHeatmap(ints(random, cells, 40)).setPlannedExperts(planned)
                .setLastScoredStep(12).setHistoryCounts(counts).setHistoryDecayed(decayed).setHistoryTokens(192)
                .setLastToken(ints(random, layers * MODEL.topK(), MODEL.numExperts())).setPrefillOnlyExperts(planned)
                .setNextTokenExperts(planned).setEventTimeMs(1_760_000_000_000L).build();
    }

    private static List<Integer> ints(SplittableRandom random, int n, int bound) {
        List<Integer> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(random.nextInt(bound));
        }
        return list;
    }

    private static List<Double> doubles(SplittableRandom random, int n) {
        List<Double> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(random.nextDouble());
        }
        return list;
    }
}
