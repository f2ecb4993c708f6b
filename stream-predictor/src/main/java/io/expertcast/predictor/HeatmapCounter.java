package io.expertcast.predictor;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The heatmap aggregator's counting on a thread beside its stream thread: the stream thread hands each
 * lesson record's cell adds over and goes on with the records of the other tasks (the request side's decode
 * events among them), and waits for the counting to be done only where it reads the tables itself (a restore,
 * a v1 record). A publication's snapshots are made on this thread too, after the counting handed over before
 * them, and the stream thread forwards them a tick later. Tasks run one at a time in the order given, so a
 * table takes its records in the order the stream thread processed them, as when it counted them itself. At
 * most {@link #MAX_PENDING} records wait: past that the stream thread waits too, so a slow counter cannot pile
 * up records in memory. The thread is named after the stream thread
 * ({@code ...-StreamThread-N-heatmap-counter}), so the stream threads' CPU figures (bench predictor) include it.
 */
final class HeatmapCounter implements AutoCloseable {
    static final int MAX_PENDING = 64;

    private final ExecutorService thread;
    private final Semaphore room = new Semaphore(MAX_PENDING);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private Future<?> last;

    HeatmapCounter(String streamThreadName) {
        String name = streamThreadName + "-heatmap-counter";
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Runs {@code work} (counting, or making snapshots of what was counted) after everything handed over before
     * it; waits while {@link #MAX_PENDING} wait.
     */
    Future<?> submit(Runnable work) {
        rethrow();
        room.acquireUninterruptibly();
        last = thread.submit(() -> {
            try {
                if (failure.get() == null) {
                    work.run();
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            } finally {
                room.release();
            }
        });
        return last;
    }

    /** Waits until everything handed over is counted (what it wrote is then visible to the caller). */
    void drain() {
        if (last != null) {
            await(last);
            last = null;
        }
        rethrow();
    }

    /** Waits until {@code work} (and so everything handed over before it) is done; its writes are then visible. */
    void await(Future<?> work) {
        try {
            work.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the heatmap counter finished", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("heatmap counter failed", e.getCause());
        }
        rethrow();
    }

    private void rethrow() {
        Throwable t = failure.get();
        if (t != null) {
            throw new IllegalStateException("heatmap counting failed: " + t, t);
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
