package io.expertcast.emulator;

import io.expertcast.emulator.prefetch.PrefetchBook;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The wafer engines' state in a changelogged (compacted) store, so that a restarted emulator, or the
 * instance a task moves to, goes on with the same wafer (resource clocks, link bytes, each die's LLC
 * and the expert copies its HBM took under the Pred policies) instead of a cold one, and its totals
 * equal those of a run that was never interrupted. One entry per (model, source, policy), key
 * {@code model NUL source NUL policy}, value {@link io.expertcast.core.wafer.WaferEngine#exportState};
 * written after every pass in the same transaction as the pass's outputs (the store is cached, so a
 * commit interval writes each engine once to the changelog), read back when the task starts.
 *
 * <p>The emulator's prefetch books are journalled by {@link PrefetchBookStores}, passed here as the
 * delegate (or none, without prefetch commands). Not kept: the in-process prefetch source's token
 * heatmap (offline {@code simulate}'s source; the service forecasts from moe.prefetch).
 */
final class EngineStates implements PassEmulator.Journals {
    static final String STORE = "emulator-engines";
    private static final char SEP = '\u0000';

    private final KeyValueStore<String, byte[]> store;
    private final String owner;
    private final PassEmulator.Journals books;

    /**
     * @param owner the task these engines belong to (the emulator is shared by the tasks of an instance)
     * @param books where the prefetch books write, or {@link PassEmulator.Journals#NONE}
     */
    EngineStates(KeyValueStore<String, byte[]> store, String owner, PassEmulator.Journals books) {
        this.store = store;
        this.owner = owner;
        this.books = books;
    }

    /** Adds the store to the topology (changelogged, cached). */
    static void addTo(StreamsBuilder builder) {
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE),
                Serdes.String(), Serdes.ByteArray()).withCachingEnabled());
    }

    @Override
    public PrefetchBook.Journal of(String model, String source) {
        return books.of(model, source);
    }

    @Override
    public void moved(String model, String fromSource, String toSource) {
        books.moved(model, fromSource, toSource);
    }

    @Override
    public String owner() {
        return owner;
    }

    @Override
    public void engine(String model, String source, String policy, byte[] state) {
        store.put(model + SEP + source + SEP + policy, state);
    }

    @Override
    public void forget(String model, String source, String policy) {
        store.delete(model + SEP + source + SEP + policy);
    }

    /** Rebuilds this task's engines in {@code emulator} from the store; returns how many were restored. */
    int restoreInto(PassEmulator emulator) {
        Map<String, Map<String, byte[]>> byRun = new HashMap<>(); // "model NUL source" -> policy -> state
        try (KeyValueIterator<String, byte[]> all = store.all()) {
            while (all.hasNext()) {
                var kv = all.next();
                int last = kv.key.lastIndexOf(SEP);
                if (last <= 0 || kv.key.indexOf(SEP) == last) {
                    continue; // not a key of this layout
                }
                byRun.computeIfAbsent(kv.key.substring(0, last), r -> new HashMap<>()).put(kv.key.substring(last + 1),
                        kv.value);
            }
        }
        Map<String, Map<String, Map<String, byte[]>>> states = new HashMap<>(); // model -> source -> policy -> state
        byRun.forEach((run, policies) -> {
            int cut = run.indexOf(SEP);
            states.computeIfAbsent(run.substring(0, cut), m -> new HashMap<>()).put(run.substring(cut + 1), policies);
        });
        return emulator.restoreEngines(owner, states);
    }
}
