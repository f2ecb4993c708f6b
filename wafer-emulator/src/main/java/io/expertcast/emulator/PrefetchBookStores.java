package io.expertcast.emulator;

import io.expertcast.emulator.prefetch.PrefetchBook;
import io.expertcast.schemas.PrefetchCommand;
import io.expertcast.schemas.Topics;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The emulator's Pred state in two changelogged (compacted) stores, so that a restarted emulator
 * goes on with the prefetch commands it had filed: every request's progress (its last activity on
 * the pass clock, the steps emulated, whether it finished) and each model's pass clock in
 * {@link #PROGRESS_STORE}; every filed command, by request and slot (its target step, or
 * {@link PrefetchBook#DECODE_PHASE_SLOT}), in {@link #COMMANDS_STORE}, written once when filed and
 * deleted when used, late or expired. Written in the same transaction as the pass's outputs (the
 * journal of the {@link PrefetchBook}), read back once when the task starts.
 *
 * <p>Keys: {@code model NUL request} (progress), {@code model SOH} (clock), {@code model NUL request
 * NUL slot} (commands). Values: a small binary layout (progress, clock) and the commands' own Avro
 * single-object encoding, length-prefixed.
 */
final class PrefetchBookStores implements PrefetchBook.Journal {
    static final String PROGRESS_STORE = "emulator-prefetch-progress";
    static final String COMMANDS_STORE = "emulator-prefetch-commands";
    private static final char SEP = '\u0000';
    private static final char CLOCK = '\u0001';

    private final KeyValueStore<String, byte[]> progress;
    private final KeyValueStore<String, byte[]> commands;
    private String model;

    PrefetchBookStores(KeyValueStore<String, byte[]> progress, KeyValueStore<String, byte[]> commands) {
        this.progress = progress;
        this.commands = commands;
    }

    /** Adds the two stores to the topology (changelogged; key-value changelogs are compacted). */
    static void addTo(StreamsBuilder builder) {
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(PROGRESS_STORE),
                Serdes.String(), Serdes.ByteArray()));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(COMMANDS_STORE),
                Serdes.String(), Serdes.ByteArray()));
    }

    /** The journal of {@code modelId}'s book. */
    PrefetchBook.Journal of(String modelId) {
        this.model = modelId;
        return this;
    }

    @Override
    public void progress(String request, PrefetchBook.RequestProgress p) {
        String key = model + SEP + request;
        if (p == null) {
            progress.delete(key);
            return;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(32);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte((p.lastActiveMs() != null ? 1 : 0) | (p.finished() ? 2 : 0) | (p.decodePhaseUsed() ? 4 : 0)
                    | (p.decodePhaseLate() ? 8 : 0) | (p.emulatedSteps() != null ? 16 : 0));
            out.writeLong(p.lastActiveMs() == null ? 0 : p.lastActiveMs());
            long[] steps = p.emulatedSteps() == null ? new long[0] : p.emulatedSteps();
            out.writeInt(steps.length);
            for (long word : steps) {
                out.writeLong(word);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        progress.put(key, bytes.toByteArray());
    }

    @Override
    public void commands(String request, int slot, List<PrefetchCommand> filed) {
        String key = model + SEP + request + SEP + slot;
        if (filed == null) {
            commands.delete(key);
            return;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(filed.size());
            for (PrefetchCommand c : filed) {
                byte[] encoded = Topics.PREFETCH.valueSerde().serializer().serialize(Topics.PREFETCH.name(), c);
                out.writeInt(encoded.length);
                out.write(encoded);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        commands.put(key, bytes.toByteArray());
    }

    @Override
    public void clock(long clockMs, long nextCheckMs) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(16);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeLong(clockMs);
            out.writeLong(nextCheckMs);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        progress.put(model + CLOCK, bytes.toByteArray());
    }

    /** Rebuilds every model's book the stores hold into {@code emulator}; returns the commands restored. */
    long restoreInto(PassEmulator emulator) {
        Map<String, long[]> clocks = new HashMap<>();
        Map<String, Map<String, PrefetchBook.RequestProgress>> progressByModel = new TreeMap<>();
        Map<String, Map<String, Map<Integer, List<PrefetchCommand>>>> commandsByModel = new TreeMap<>();
        try (KeyValueIterator<String, byte[]> all = progress.all()) {
            while (all.hasNext()) {
                var kv = all.next();
                if (kv.key.endsWith(String.valueOf(CLOCK)) && kv.key.indexOf(SEP) < 0) {
                    DataInputStream in = new DataInputStream(new ByteArrayInputStream(kv.value));
                    clocks.put(kv.key.substring(0, kv.key.length() - 1), new long[] {readLong(in), readLong(in)});
                    continue;
                }
                int cut = kv.key.indexOf(SEP);
                progressByModel.computeIfAbsent(kv.key.substring(0, cut), m -> new HashMap<>())
                        .put(kv.key.substring(cut + 1), decodeProgress(kv.value));
            }
        }
        long restored = 0;
        try (KeyValueIterator<String, byte[]> all = commands.all()) {
            while (all.hasNext()) {
                var kv = all.next();
                int first = kv.key.indexOf(SEP);
                int last = kv.key.lastIndexOf(SEP);
                List<PrefetchCommand> filed = decodeCommands(kv.value);
                restored += filed.size();
                commandsByModel.computeIfAbsent(kv.key.substring(0, first), m -> new HashMap<>())
                        .computeIfAbsent(kv.key.substring(first + 1, last), r -> new TreeMap<>())
                        .put(Integer.parseInt(kv.key.substring(last + 1)), filed);
            }
        }
        // The stores are the truth (under exactly-once a task restarts from its last commit): no book survives them.
        emulator.clearBooks();
        java.util.Set<String> models = new java.util.TreeSet<>(clocks.keySet());
        models.addAll(progressByModel.keySet());
        models.addAll(commandsByModel.keySet());
        for (String m : models) {
            long[] clock = clocks.getOrDefault(m, new long[] {Long.MIN_VALUE, Long.MIN_VALUE});
            emulator.restoreBook(m, clock[0], clock[1], progressByModel.getOrDefault(m, Map.of()),
                    commandsByModel.getOrDefault(m, Map.of()));
        }
        return restored;
    }

    private static PrefetchBook.RequestProgress decodeProgress(byte[] value) {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(value));
        try {
            int flags = in.readByte();
            long stamp = in.readLong();
            long[] steps = new long[in.readInt()];
            for (int i = 0; i < steps.length; i++) {
                steps[i] = in.readLong();
            }
            return new PrefetchBook.RequestProgress((flags & 1) != 0 ? stamp : null, (flags & 16) != 0 ? steps : null,
                    (flags & 2) != 0, (flags & 4) != 0, (flags & 8) != 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<PrefetchCommand> decodeCommands(byte[] value) {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(value));
        try {
            int n = in.readInt();
            List<PrefetchCommand> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                byte[] encoded = new byte[in.readInt()];
                in.readFully(encoded);
                out.add(Topics.PREFETCH.valueSerde().deserializer().deserialize(Topics.PREFETCH.name(), encoded));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long readLong(DataInputStream in) {
        try {
            return in.readLong();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
