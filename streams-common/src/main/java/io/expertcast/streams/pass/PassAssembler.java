package io.expertcast.streams.pass;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.PassInput;
import io.expertcast.schemas.PassProgress;
import io.expertcast.schemas.SelectionEvent;
import io.expertcast.schemas.DeadLetter;
import io.expertcast.streams.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Keeps each input of a pass under {@code <pass key>/<kind>/...} (pass key: model, source, pass) (one store entry per input, so
 * arrival costs O(1) and completion one prefix scan) and a small progress row per pass.
 * A repeated input (same request and token offset, same layer's plan) is stored once and counted once.
 * A pass that receives nothing for {@code idleTimeout} of wall-clock time (one of its selections was
 * dead-lettered, or its producer died, or plans arrived for a pass that does not exist) is dropped
 * from the stores and reported as a dead letter whose source offset is the pass's first input on
 * the repartition topic.
 */
final class PassAssembler implements Processor<String, PassInput, String, PassAssembler.Outcome> {

    /** Exactly one of the two is set. */
    record Outcome(CompletedPass completed, DeadLetter abandoned) {
    }

    private final String itemsStoreName;
    private final String progressStoreName;
    private final ModelCatalog catalog;
    private final boolean needPlans;
    private final Duration idleTimeout;
    private String application;
    private String repartitionTopic;
    private ProcessorContext<String, Outcome> context;
    private KeyValueStore<String, PassInput> items;
    private KeyValueStore<String, PassProgress> progress;

    PassAssembler(String itemsStoreName, String progressStoreName, ModelCatalog catalog, boolean needPlans,
                  Duration idleTimeout) {
        this.itemsStoreName = itemsStoreName;
        this.progressStoreName = progressStoreName;
        this.catalog = catalog;
        this.needPlans = needPlans;
        this.idleTimeout = idleTimeout;
    }

    @Override
    public void init(ProcessorContext<String, Outcome> context) {
        this.context = context;
        this.items = context.getStateStore(itemsStoreName);
        this.progress = context.getStateStore(progressStoreName);
        this.application = context.applicationId();
        this.repartitionTopic = application + "-" + itemsStoreName.replace("-pass-items", "-pass-inputs-repartition");
        Duration every = idleTimeout.dividedBy(4).compareTo(Duration.ofSeconds(1)) < 0
                ? Duration.ofSeconds(1) : idleTimeout.dividedBy(4);
        context.schedule(every, PunctuationType.WALL_CLOCK_TIME, this::expireIdlePasses);
    }

    @Override
    public void process(Record<String, PassInput> record) {
        String passKey = record.key();
        Object payload = record.value().getPayload();
        PassProgress p = progress.get(passKey);
        if (p == null) {
            p = new PassProgress("", -1L, 0, -1, 0, 0, record.timestamp(),
                    context.recordMetadata().map(m -> m.offset()).orElse(-1L), "");
        }
        String itemKey;
        if (payload instanceof SelectionEvent e) {
            itemKey = passKey + "/s/" + e.getRequestId() + "/" + String.format("%09d", e.getTokenOffset());
            if (items.get(itemKey) != null) {
                return;
            }
            p.setModel(e.getModel());
            p.setSource(e.getSource());
            p.setPassId(e.getPassId());
            p.setTokensSeen(p.getTokensSeen() + e.getTokenCount());
            p.setEventsSeen(p.getEventsSeen() + 1);
        } else if (payload instanceof ForwardPass f) {
            itemKey = passKey + "/f";
            if (items.get(itemKey) != null) {
                return;
            }
            p.setModel(f.getModel());
            p.setSource(f.getSource());
            p.setPassId(f.getPassId());
            p.setExpectedTokens(f.getTotalTokens());
        } else if (payload instanceof AllocationPlan plan) {
            itemKey = passKey + "/p/" + String.format("%05d", plan.getLayer());
            if (items.get(itemKey) != null) {
                return;
            }
            p.setModel(plan.getModel());
            p.setSource(plan.getSource());
            p.setPassId(plan.getPassId());
            p.setPlansSeen(p.getPlansSeen() + 1);
        } else {
            throw new IllegalStateException("unexpected pass input " + payload);
        }
        items.put(itemKey, record.value());
        p.setEventTimeMs(context.currentSystemTimeMs()); // last arrival, for the idle timeout
        if (isComplete(p)) {
            complete(passKey, record);
        } else {
            progress.put(passKey, p);
        }
    }

    private boolean isComplete(PassProgress p) {
        if (p.getExpectedTokens() < 0 || p.getTokensSeen() < p.getExpectedTokens()) {
            return false;
        }
        if (!needPlans) {
            return true;
        }
        int layers = catalog.byId(p.getModel()).map(ModelShape::numMoeLayers).orElse(Integer.MAX_VALUE);
        return p.getPlansSeen() >= layers;
    }

    private void expireIdlePasses(long nowMs) {
        List<KeyValue<String, PassProgress>> idle = new ArrayList<>();
        try (KeyValueIterator<String, PassProgress> it = progress.all()) {
            while (it.hasNext()) {
                KeyValue<String, PassProgress> kv = it.next();
                if (nowMs - kv.value.getEventTimeMs() >= idleTimeout.toMillis()) {
                    idle.add(kv);
                }
            }
        }
        for (KeyValue<String, PassProgress> kv : idle) {
            PassProgress p = kv.value;
            int plansNeeded = needPlans ? catalog.byId(p.getModel()).map(ModelShape::numMoeLayers).orElse(-1) : 0;
            String reason = "pass " + p.getPassId() + " of " + p.getModel()
                    + (p.getSource().isEmpty() ? "" : " from source " + p.getSource()) + " incomplete after "
                    + idleTimeout.toSeconds() + " s without input: tokens " + p.getTokensSeen() + "/"
                    + (p.getExpectedTokens() < 0 ? "? (no ForwardPass record)" : p.getExpectedTokens())
                    + (needPlans ? ", plans " + p.getPlansSeen() + "/" + plansNeeded : "")
                    + "; its " + p.getEventsSeen() + " stored selections are dropped";
            List<String> keys = new ArrayList<>();
            try (KeyValueIterator<String, PassInput> it = items.prefixScan(kv.key + "/", new StringSerializer())) {
                while (it.hasNext()) {
                    String key = it.next().key;
                    if (isItemOf(kv.key, key)) {
                        keys.add(key);
                    }
                }
            }
            keys.forEach(items::delete);
            progress.delete(kv.key);
            // The pass's first input marks where it starts on the repartition topic (e.g. the first plan of a
            // pass that never came).
            DeadLetter letter = DeadLetters.of(application, repartitionTopic, context.taskId().partition(),
                    p.getFirstSourceOffset(), reason,
                    kv.key.getBytes(StandardCharsets.UTF_8), null);
            context.forward(new Record<>(kv.key, new Outcome(null, letter), nowMs));
        }
    }

    /**
     * Whether a store key is an input of the pass {@code passKey} rather than of another source's pass
     * whose key starts alike (the empty source's {@code model/000000000012} is a prefix of source
     * {@code 000000000012}'s passes).
     */
    static boolean isItemOf(String passKey, String itemKey) {
        int at = passKey.length() + 1;
        return itemKey.startsWith("s/", at) || itemKey.startsWith("p/", at)
                || (itemKey.length() == at + 1 && itemKey.charAt(at) == 'f');
    }

    private void complete(String passKey, Record<String, PassInput> trigger) {
        ForwardPass pass = null;
        List<SelectionEvent> selections = new ArrayList<>();
        List<AllocationPlan> plans = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        try (KeyValueIterator<String, PassInput> it = items.prefixScan(passKey + "/", new StringSerializer())) {
            while (it.hasNext()) {
                KeyValue<String, PassInput> kv = it.next();
                if (!isItemOf(passKey, kv.key)) {
                    continue;
                }
                keys.add(kv.key);
                Object payload = kv.value.getPayload();
                if (payload instanceof SelectionEvent e) {
                    selections.add(e);
                } else if (payload instanceof ForwardPass f) {
                    pass = f;
                } else if (payload instanceof AllocationPlan plan) {
                    plans.add(plan);
                }
            }
        }
        for (String key : keys) {
            items.delete(key);
        }
        progress.delete(passKey);
        context.forward(trigger.withValue(new Outcome(new CompletedPass(pass, selections, plans), null)));
    }
}
