package io.expertcast.attach.sglang;

import io.expertcast.attach.standin.SimulatedEngine;
import io.expertcast.core.model.ExpertIds;
import io.expertcast.schemas.SelectionEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The selections an attach must publish for the passes a stand-in dumped, as comparable lines. */
final class Truth {
    private Truth() {
    }

    /**
     * One line per chunk of every dumped pass, in pass order: request (numbered in order of its first
     * prefill, as attach numbers them), step, offsets, ids, and lastStep. Requests in {@code cut} were
     * cut by a recorder restart after their last dumped chunk (attach ends them there); a request's
     * chunks after such a cut, or whose prefill was never dumped, are left out.
     */
    static List<String> expected(List<SimulatedEngine.Pass> dumped, List<Integer> gaps, String prefix) {
        // a request prefilled before a gap (the number of passes dumped when the recorder was started
        // again) is cut at the gap
        Map<Long, Integer> firstPass = new HashMap<>();
        Map<Long, Integer> lastDumpedPassOfCut = new HashMap<>();
        for (int p = 0; p < dumped.size(); p++) {
            for (SimulatedEngine.Chunk c : dumped.get(p).chunks()) {
                firstPass.putIfAbsent(c.request(), p);
                for (int g : gaps) {
                    if (firstPass.get(c.request()) < g && p >= g) {
                        lastDumpedPassOfCut.merge(c.request(), g - 1, Math::min);
                    }
                }
            }
        }
        Map<Long, Long> attachId = new HashMap<>();
        Map<Long, int[]> lastChunkAt = new HashMap<>(); // engine request -> [pass index, chunk index]
        List<SimulatedEngine.Pass> passes = dumped;
        // which chunks are published
        List<List<SimulatedEngine.Chunk>> kept = new ArrayList<>();
        long next = 0;
        for (int p = 0; p < passes.size(); p++) {
            List<SimulatedEngine.Chunk> k = new ArrayList<>();
            for (SimulatedEngine.Chunk c : passes.get(p).chunks()) {
                Integer cutAt = lastDumpedPassOfCut.get(c.request());
                if (cutAt != null && p > cutAt) {
                    continue;
                }
                if (c.step() == 0 && c.tokenOffset() == 0) {
                    attachId.put(c.request(), next++);
                }
                if (!attachId.containsKey(c.request())) {
                    continue;
                }
                k.add(c);
                lastChunkAt.put(c.request(), new int[] {p, k.size() - 1});
            }
            kept.add(k);
        }
        List<String> lines = new ArrayList<>();
        for (int p = 0; p < kept.size(); p++) {
            int offset = 0;
            for (int i = 0; i < kept.get(p).size(); i++) {
                SimulatedEngine.Chunk c = kept.get(p).get(i);
                int[] last = lastChunkAt.get(c.request());
                boolean isLast = last[0] == p && last[1] == i;
                // the engine ended it here, or the recording was cut after it
                boolean lastStep = isLast;
                lines.add(line(prefix + "/" + attachId.get(c.request()), c.step(), c.tokenOffset(), c.tokenCount(),
                        offset, c.logicalIds(), lastStep));
                offset += c.tokenCount();
            }
        }
        return lines;
    }

    static List<String> actual(List<SelectionEvent> events) {
        List<String> lines = new ArrayList<>();
        for (SelectionEvent e : events) {
            byte[] b = new byte[e.getExpertIds().remaining()];
            e.getExpertIds().duplicate().get(b);
            lines.add(line(e.getRequestId(), e.getStep(), e.getTokenOffset(), e.getTokenCount(), e.getBatchTokenOffset(),
                    ExpertIds.unpack(b), e.getLastStep()));
        }
        return lines;
    }

    static String line(String request, int step, int tokenOffset, int tokenCount, int batchOffset, int[] ids,
                       boolean lastStep) {
        return request + " step " + step + " @" + tokenOffset + "+" + tokenCount + " batch@" + batchOffset
                + (lastStep ? " LAST " : " ") + java.util.Arrays.toString(ids);
    }

    /** assertEquals on the lines, failing with the first line that differs rather than both lists whole. */
    static void assertSame(List<String> expected, List<String> actual) {
        for (int i = 0; i < Math.min(expected.size(), actual.size()); i++) {
            if (!expected.get(i).equals(actual.get(i))) {
                org.junit.jupiter.api.Assertions.fail("line " + i + " differs:\n expected " + expected.get(i)
                        + "\n actual   " + actual.get(i) + "\n(previous: " + (i > 0 ? expected.get(i - 1) : "-") + ")");
            }
        }
        org.junit.jupiter.api.Assertions.assertEquals(expected.size(), actual.size(), "lines");
    }
}
