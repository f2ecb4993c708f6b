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
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The emulator's Pred state in two changelogged (compacted) stores, so that a restarted emulator
 * goes on with the prefetch commands it had filed, one book per (model, source) as the emulator
 * keeps them: every request's progress (its last activity on the pass clock, the steps emulated,
 * whether it finished, its last step once seen, the steps whose commands were used) and each book's
 * pass clock in
 * {@link #PROGRESS_STORE}; every filed command, by request and slot (its target step, or
 * {@link PrefetchBook#DECODE_PHASE_SLOT}), in {@link #COMMANDS_STORE}, written once when filed and
 * deleted when used, late or expired. Written in the same transaction as the pass's outputs (the
 * journal of the {@link PrefetchBook}), read back once when the task starts.
 *
 * <p>Keys: {@code model NUL source NUL request} (progress), {@code model NUL source SOH} (clock),
 * {@code model NUL source NUL request NUL slot} (commands); a source id has neither NUL nor SOH
 * ({@link Topics#sourceProblem}). Values: a small binary layout (progress, clock; flags say which
 * parts follow, so progress written without the last and used steps still reads) and the commands'
 * own Avro single-object encoding, length-prefixed.
 */
final class PrefetchBookStores implements PassEmulator.Journals {
    static final String PROGRESS_STORE = "emulator-prefetch-progress";
    static final String COMMANDS_STORE = "emulator-prefetch-commands";
    private static final char SEP = '\u0000';
    private static final char CLOCK = '\u0001';

    private final KeyValueStore<String, byte[]> progress;
    private final KeyValueStore<String, byte[]> commands;

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

    /** The journal of the (model, source) book. */
    @Override
    public PrefetchBook.Journal of(String model, String source) {
        return new BookJournal(model + SEP + source);
    }

    /** Re-keys everything the (model, from) book wrote to (model, to): the book itself moved. */
    @Override
    public void moved(String model, String from, String to) {
        String fromBook = model + SEP + from;
        String toBook = model + SEP + to;
        for (KeyValueStore<String, byte[]> store : List.of(progress, commands)) {
            List<org.apache.kafka.streams.KeyValue<String, byte[]>> entries = new ArrayList<>();
            try (KeyValueIterator<String, byte[]> it = store.prefixScan(fromBook + SEP, new StringSerializer())) {
                it.forEachRemaining(entries::add);
            }
            byte[] clock = store.get(fromBook + CLOCK);
            if (clock != null) {
                entries.add(org.apache.kafka.streams.KeyValue.pair(fromBook + CLOCK, clock));
            }
            for (var kv : entries) {
                store.delete(kv.key);
                store.put(toBook + kv.key.substring(fromBook.length()), kv.value);
            }
        }
    }

    /** One book's journal: its keys start with {@code model NUL source}. */
    private final class BookJournal implements PrefetchBook.Journal {
        private final String book;

        BookJournal(String book) {
            this.book = book;
        }

        @Override
        public void progress(String request, PrefetchBook.RequestProgress p) {
            PrefetchBookStores.this.progress(book, request, p);
        }

        @Override
        public void commands(String request, int slot, List<PrefetchCommand> filed) {
            PrefetchBookStores.this.commands(book, request, slot, filed);
        }

        @Override
        public void clock(long clockMs, long nextCheckMs) {
            PrefetchBookStores.this.clock(book, clockMs, nextCheckMs);
        }
    }

    private void progress(String book, String request, PrefetchBook.RequestProgress p) {
        String key = book + SEP + request;
        if (p == null) {
            progress.delete(key);
            return;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(32);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte((p.lastActiveMs() != null ? 1 : 0) | (p.finished() ? 2 : 0) | (p.decodePhaseUsed() ? 4 : 0)
                    | (p.decodePhaseLate() ? 8 : 0) | (p.emulatedSteps() != null ? 16 : 0)
                    | (p.lastStep() != null ? 32 : 0) | (p.usedSteps() != null ? 64 : 0));
            out.writeLong(p.lastActiveMs() == null ? 0 : p.lastActiveMs());
            writeWords(out, p.emulatedSteps());
            if (p.lastStep() != null) {
                out.writeInt(p.lastStep());
            }
            if (p.usedSteps() != null) {
                writeWords(out, p.usedSteps());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        progress.put(key, bytes.toByteArray());
    }

    private static void writeWords(DataOutputStream out, long[] words) throws IOException {
        long[] w = words == null ? new long[0] : words;
        out.writeInt(w.length);
        for (long word : w) {
            out.writeLong(word);
        }
    }

    private static long[] readWords(DataInputStream in) throws IOException {
        long[] words = new long[in.readInt()];
        for (int i = 0; i < words.length; i++) {
            words[i] = in.readLong();
        }
        return words;
    }

    private void commands(String book, String request, int slot, List<PrefetchCommand> filed) {
        String key = book + SEP + request + SEP + slot;
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

    private void clock(String book, long clockMs, long nextCheckMs) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(16);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeLong(clockMs);
            out.writeLong(nextCheckMs);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        progress.put(book + CLOCK, bytes.toByteArray());
    }

    /**
     * Rebuilds every (model, source) book the stores hold into {@code emulator} (after forgetting
     * every book it had); returns the commands restored.
     */
    long restoreInto(PassEmulator emulator) {
        Map<String, long[]> clocks = new HashMap<>(); // by "model NUL source"
        Map<String, Map<String, PrefetchBook.RequestProgress>> progressByBook = new TreeMap<>();
        Map<String, Map<String, Map<Integer, List<PrefetchCommand>>>> commandsByBook = new TreeMap<>();
        try (KeyValueIterator<String, byte[]> all = progress.all()) {
            while (all.hasNext()) {
                var kv = all.next();
                int first = kv.key.indexOf(SEP);
                int second = first < 0 ? -1 : kv.key.indexOf(SEP, first + 1);
                if (first < 0) {
                    continue; // not a key of this layout
                }
                if (second < 0) {
                    if (kv.key.endsWith(String.valueOf(CLOCK))) {
                        DataInputStream in = new DataInputStream(new ByteArrayInputStream(kv.value));
                        clocks.put(kv.key.substring(0, kv.key.length() - 1), new long[] {readLong(in), readLong(in)});
                    }
                    continue;
                }
                progressByBook.computeIfAbsent(kv.key.substring(0, second), b -> new HashMap<>())
                        .put(kv.key.substring(second + 1), decodeProgress(kv.value));
            }
        }
        long restored = 0;
        try (KeyValueIterator<String, byte[]> all = commands.all()) {
            while (all.hasNext()) {
                var kv = all.next();
                int first = kv.key.indexOf(SEP);
                int second = first < 0 ? -1 : kv.key.indexOf(SEP, first + 1);
                int last = kv.key.lastIndexOf(SEP);
                if (second < 0 || last <= second) {
                    continue; // not a key of this layout
                }
                List<PrefetchCommand> filed = decodeCommands(kv.value);
                restored += filed.size();
                commandsByBook.computeIfAbsent(kv.key.substring(0, second), b -> new HashMap<>())
                        .computeIfAbsent(kv.key.substring(second + 1, last), r -> new TreeMap<>())
                        .put(Integer.parseInt(kv.key.substring(last + 1)), filed);
            }
        }
        // The stores are the truth (under exactly-once a task restarts from its last commit): no book survives them.
        emulator.clearBooks();
        java.util.Set<String> books = new java.util.TreeSet<>(clocks.keySet());
        books.addAll(progressByBook.keySet());
        books.addAll(commandsByBook.keySet());
        for (String b : books) {
            int cut = b.indexOf(SEP);
            long[] clock = clocks.getOrDefault(b, new long[] {Long.MIN_VALUE, Long.MIN_VALUE});
            try {
                emulator.restoreBook(b.substring(0, cut), b.substring(cut + 1), clock[0], clock[1],
                        progressByBook.getOrDefault(b, Map.of()), commandsByBook.getOrDefault(b, Map.of()));
            } catch (IllegalArgumentException e) { // a model no longer in the catalog: its book cannot be used
                org.slf4j.LoggerFactory.getLogger(PrefetchBookStores.class).warn(
                        "prefetch book of {} not restored: {}", b.replace(SEP, '/'), e.getMessage());
            }
        }
        return restored;
    }

    private static PrefetchBook.RequestProgress decodeProgress(byte[] value) {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(value));
        try {
            int flags = in.readByte();
            long stamp = in.readLong();
            long[] steps = readWords(in);
            Integer lastStep = (flags & 32) != 0 ? in.readInt() : null;
            long[] used = (flags & 64) != 0 ? readWords(in) : null;
            return new PrefetchBook.RequestProgress((flags & 1) != 0 ? stamp : null, (flags & 16) != 0 ? steps : null,
                    (flags & 2) != 0, (flags & 4) != 0, (flags & 8) != 0, lastStep, used);
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
