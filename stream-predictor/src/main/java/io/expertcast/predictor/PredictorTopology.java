package io.expertcast.predictor;

import io.expertcast.schemas.PredictorMetrics;
import io.expertcast.schemas.RequestForecastState;
import io.expertcast.schemas.SerdeFactory;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.Topics;
import io.expertcast.streams.ValidatedSelections;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.api.ProcessorSupplier;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * The predictor's topology (Insight 1, prefill-driven decode prediction):
 * validated moe.selections (key = request id) -> {@link RequestForecastProcessor} (per-request
 * prefill heatmap and decode plan in RocksDB) -> moe.prefetch; per-step scores repartitioned by model
 * -> {@link DecodeAccuracyAggregator} -> moe.predictor-metrics; rejected records -> moe.dead-letter.
 */
public final class PredictorTopology {
    /** Request id -> {@link RequestForecastState}. */
    public static final String REQUEST_STORE = "predictor-request-forecasts";
    /** Model -> cumulative decode-plan accuracy. */
    public static final String ACCURACY_STORE = "predictor-decode-accuracy";
    /** Name of the repartition topic carrying per-step scores keyed by model. */
    public static final String SCORES_REPARTITION = "predictor-decode-scores-by-model";

    private PredictorTopology() {
    }

    public static void build(StreamsBuilder builder, PredictorSettings settings) {
        SerdeFactory serdes = SerdeFactory.defaultFactory();
        Serde<PredictorMetrics> metricsSerde = Topics.PREDICTOR_METRICS.valueSerde();
        KStream<String, SelectionEvent> selections =
                ValidatedSelections.stream(builder, settings.catalog(), settings.applicationName());

        StoreBuilder<?> requestStore = Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(REQUEST_STORE),
                Serdes.String(), serdes.serde(RequestForecastState.class));
        KStream<String, ForecastOutput> outputs = selections.process(new ProcessorSupplier<>() {
            @Override
            public RequestForecastProcessor get() {
                return new RequestForecastProcessor(settings);
            }

            @Override
            public Set<StoreBuilder<?>> stores() {
                return Set.of(requestStore);
            }
        }, Named.as("request-forecast"));

        var branches = outputs.split(Named.as("forecast-"))
                .branch((k, v) -> v.prefetch() != null, Branched.as("prefetch"))
                .branch((k, v) -> v.score() != null, Branched.as("score"))
                .defaultBranch(Branched.as("dead-letter"));

        branches.get("forecast-prefetch")
                .mapValues(ForecastOutput::prefetch, Named.as("prefetch-command"))
                .to(Topics.PREFETCH.name(), Produced.with(Topics.PREFETCH.keySerde(), Topics.PREFETCH.valueSerde())
                        .withName("prefetch-sink"));

        branches.get("forecast-dead-letter")
                .map((k, v) -> KeyValue.pair(k == null ? null : k.getBytes(StandardCharsets.UTF_8), v.deadLetter()),
                        Named.as("forecast-dead-letter-record"))
                .to(Topics.DEAD_LETTER.name(), Produced.with(Topics.DEAD_LETTER.keySerde(),
                        Topics.DEAD_LETTER.valueSerde()).withName("forecast-dead-letter-sink"));

        StoreBuilder<?> accuracyStore = Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(ACCURACY_STORE),
                Serdes.String(), metricsSerde);
        branches.get("forecast-score")
                .mapValues(ForecastOutput::score, Named.as("decode-score"))
                .repartition(Repartitioned.with(Serdes.String(), metricsSerde).withName(SCORES_REPARTITION))
                .process(new ProcessorSupplier<String, PredictorMetrics, String, PredictorMetrics>() {
                    @Override
                    public DecodeAccuracyAggregator get() {
                        return new DecodeAccuracyAggregator(settings.publishInterval());
                    }

                    @Override
                    public Set<StoreBuilder<?>> stores() {
                        return Set.of(accuracyStore);
                    }
                }, Named.as("decode-accuracy"))
                .to(Topics.PREDICTOR_METRICS.name(), Produced.with(Topics.PREDICTOR_METRICS.keySerde(), metricsSerde)
                        .withName("predictor-metrics-sink"));
    }
}
