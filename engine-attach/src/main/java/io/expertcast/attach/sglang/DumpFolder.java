package io.expertcast.attach.sglang;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The folder SGLang's recorder writes into (SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR). torch.save
 * writes the final path directly, with no rename, so a file is taken only when two looks a moment
 * apart find the same size and modification time. Files are ordered as the dumps were taken: by the
 * {@code time.time()} in their name ({@code expert_distribution_recorder_<time>[_<rank>].pt}), then rank.
 */
public final class DumpFolder {
    private static final Pattern NAME = Pattern.compile("expert_distribution_recorder_([0-9.]+?)(?:_([0-9]+))?\\.pt");

    /** A dump file: its name, the time in its name, its rank (0 for stat dumps). */
    public record DumpFile(Path path, String name, double time, int rank) {
    }

    private final Path dir;
    private final long settleMs;

    public DumpFolder(Path dir, long settleMs) {
        this.dir = dir;
        this.settleMs = settleMs;
    }

    public Path dir() {
        return dir;
    }

    /** Recorder files not in {@code consumed} whose size and time did not change over the settle time, in dump order. */
    public List<DumpFile> settled(Set<String> consumed) throws IOException {
        Map<String, String> first = look(consumed);
        if (first.isEmpty()) {
            return List.of();
        }
        try {
            Thread.sleep(settleMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
        Map<String, String> second = look(consumed);
        List<DumpFile> out = new ArrayList<>();
        for (Map.Entry<String, String> e : second.entrySet()) {
            if (e.getValue().equals(first.get(e.getKey()))) {
                Matcher m = NAME.matcher(e.getKey());
                m.matches();
                out.add(new DumpFile(dir.resolve(e.getKey()), e.getKey(), Double.parseDouble(m.group(1)),
                        m.group(2) == null ? 0 : Integer.parseInt(m.group(2))));
            }
        }
        out.sort(Comparator.comparingDouble(DumpFile::time).thenComparingInt(DumpFile::rank)
                .thenComparing(DumpFile::name));
        return out;
    }

    /** Names of the recorder files now in the folder. */
    public Set<String> present() throws IOException {
        return look(Set.of()).keySet();
    }

    private Map<String, String> look(Set<String> consumed) throws IOException {
        Map<String, String> seen = new HashMap<>();
        if (!Files.isDirectory(dir)) {
            return seen;
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                String name = p.getFileName().toString();
                if (!NAME.matcher(name).matches() || consumed.contains(name)) {
                    continue;
                }
                try {
                    seen.put(name, Files.size(p) + "@" + Files.getLastModifiedTime(p).toMillis());
                } catch (IOException gone) {
                    // deleted between the listing and the look: not there
                }
            }
        }
        return seen;
    }
}
