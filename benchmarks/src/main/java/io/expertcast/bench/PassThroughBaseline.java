package io.expertcast.bench;

import io.expertcast.schemas.MemoryTier;
import io.expertcast.schemas.Phase;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.PrefetchPredictions;
import io.expertcast.schemas.PrefetchScope;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The second baseline of {@code bench predictor}: what one Kafka Streams thread under the predictor's own
 * settings (exactly_once_v2, commit interval, linger) does per event when the prediction costs nothing.
 * It reads {@code moe.selections} with the same serde, and per decode event writes a NEXT_TOKEN
 * {@link PrefetchCommand} of the predictor's shape (every MoE layer, k experts with scores) to its own
 * topic, predicting that step t+1 repeats step t. No state, no heatmaps. The predictor's rate over this
 * one's is the share of the Streams ceiling on this machine that the prediction leaves. Its latency run
 * reads paced events from {@link #PACED_INPUT_TOPIC}.
 */
final class PassThroughBaseline {
    static final String OUTPUT_TOPIC = "bench.pass-through-prefetch";
    /** The paced events of its latency run: a topic of its own, so the paused predictor never sees them. */
    static final String PACED_INPUT_TOPIC = "bench.pass-through-selections";

    private PassThroughBaseline() {
    }

    /** {@code moe.selections} and {@link #PACED_INPUT_TOPIC}, each decode event to {@link #OUTPUT_TOPIC}. */
    static Topology topology() {
        StreamsBuilder builder = new StreamsBuilder();
        for (String input : List.of(Topics.SELECTIONS.name(), PACED_INPUT_TOPIC)) {
            builder.stream(input, Consumed.with(Serdes.String(), Topics.SELECTIONS.valueSerde()))
                    .filter((id, event) -> event.getPhase() == Phase.DECODE && event.getTokenCount() == 1)
                    .mapValues(PassThroughBaseline::repeatLastStep)
                    .to(OUTPUT_TOPIC, Produced.with(Serdes.String(), Topics.PREFETCH.valueSerde()));
        }
        return builder.build();
    }

    /** Step t+1 predicted to select what step t did, at every layer, each expert scored 1/k; packed as the predictor packs. */
    static PrefetchCommand repeatLastStep(SelectionEvent event) {
        int layers = event.getNumMoeLayers();
        int k = event.getTopK();
        ByteBuffer ids = event.getExpertIds().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int[][] experts = new int[layers][k];
        double[][] scores = new double[layers][k];
        for (int l = 0; l < layers; l++) {
            for (int j = 0; j < k; j++) {
                experts[l][j] = Short.toUnsignedInt(ids.getShort(ids.position() + 2 * (l * k + j)));
                scores[l][j] = 1.0 / k;
            }
        }
        return PrefetchPredictions.pack(PrefetchCommand.newBuilder()
                .setModel(event.getModel())
                .setRequestId(event.getRequestId())
                .setScope(PrefetchScope.NEXT_TOKEN)
                .setTargetStep(event.getStep() + 1)
                .setTier(MemoryTier.HBM)
                .setSourcePassId(event.getPassId())
                .setEventTimeMs(event.getEventTimeMs()), experts, scores)
                .build();
    }
}
