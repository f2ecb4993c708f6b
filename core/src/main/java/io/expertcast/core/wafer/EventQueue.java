package io.expertcast.core.wafer;

import java.util.Arrays;

/**
 * The engine's agenda: a binary min-heap of events ordered by (time, priority, sequence), the
 * sequence being the order of scheduling, so equal times and priorities pop first-scheduled first
 * and a run is deterministic. Events are two ints (kind and payload), kept in parallel primitive
 * arrays: the emulator schedules millions per second and allocates nothing per event.
 */
final class EventQueue {
    private double[] time = new double[256];
    private int[] priority = new int[256];
    private long[] sequence = new long[256];
    private int[] kind = new int[256];
    private int[] payload = new int[256];
    private int size;
    private long nextSequence;

    private double poppedTime;
    private int poppedKind;
    private int poppedPayload;

    void schedule(double at, int prio, int eventKind, int eventPayload) {
        if (size == time.length) {
            int n = size * 2;
            time = Arrays.copyOf(time, n);
            priority = Arrays.copyOf(priority, n);
            sequence = Arrays.copyOf(sequence, n);
            kind = Arrays.copyOf(kind, n);
            payload = Arrays.copyOf(payload, n);
        }
        int i = size++;
        long seq = nextSequence++;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!before(at, prio, seq, parent)) {
                break;
            }
            move(parent, i);
            i = parent;
        }
        time[i] = at;
        priority[i] = prio;
        sequence[i] = seq;
        kind[i] = eventKind;
        payload[i] = eventPayload;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** Removes the first event; read it with {@link #time()}, {@link #kind()}, {@link #payload()}. */
    void pop() {
        poppedTime = time[0];
        poppedKind = kind[0];
        poppedPayload = payload[0];
        size--;
        if (size == 0) {
            return;
        }
        double t = time[size];
        int p = priority[size];
        long s = sequence[size];
        int k = kind[size];
        int pl = payload[size];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && earlier(child + 1, child)) {
                child++;
            }
            if (!beforeSlot(child, t, p, s)) {
                break;
            }
            move(child, i);
            i = child;
        }
        time[i] = t;
        priority[i] = p;
        sequence[i] = s;
        kind[i] = k;
        payload[i] = pl;
    }

    double time() { return poppedTime; }
    int kind() { return poppedKind; }
    int payload() { return poppedPayload; }

    private boolean before(double t, int p, long s, int slot) {
        if (t != time[slot]) return t < time[slot];
        if (p != priority[slot]) return p < priority[slot];
        return s < sequence[slot];
    }

    private boolean beforeSlot(int slot, double t, int p, long s) {
        if (time[slot] != t) return time[slot] < t;
        if (priority[slot] != p) return priority[slot] < p;
        return sequence[slot] < s;
    }

    private boolean earlier(int a, int b) {
        return beforeSlot(a, time[b], priority[b], sequence[b]);
    }

    private void move(int from, int to) {
        time[to] = time[from];
        priority[to] = priority[from];
        sequence[to] = sequence[from];
        kind[to] = kind[from];
        payload[to] = payload[from];
    }
}
