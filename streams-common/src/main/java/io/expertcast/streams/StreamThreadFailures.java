package io.expertcast.streams;

import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TransactionAbortedException;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;

/**
 * What a stage does when a stream thread dies. A transaction the cluster took away (the producer
 * fenced or its epoch bumped after a transaction timeout, its state invalid after a broker or
 * coordinator was lost, a retriable error that outlived its retries) is the cluster's doing, not a bad
 * record: under exactly_once_v2 nothing of the failed transaction was committed, so the thread is
 * replaced and carries on from the last commit (found by the scale-out fault suite: a survivor's
 * emulator shut down on InvalidTxnStateException after its peer was killed). Anything else is a bug,
 * and the client is shut down, loudly, as before.
 */
public final class StreamThreadFailures {
    private StreamThreadFailures() {
    }

    /** The handler for {@code stage}, logging each failure once with its decision. */
    public static StreamsUncaughtExceptionHandler handler(String stage, Logger log) {
        return e -> {
            if (clusterCaused(e)) {
                log.warn("{} stream thread lost its transaction ({}); replacing the thread, it resumes from the "
                        + "last commit", stage, rootMessage(e));
                return StreamThreadExceptionResponse.REPLACE_THREAD;
            }
            log.error("{} stream thread failed; shutting the client down", stage, e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        };
    }

    /** Whether {@code e} or a cause of it is a transaction or connection failure caused by the cluster. */
    static boolean clusterCaused(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ProducerFencedException || t instanceof InvalidProducerEpochException
                    || t instanceof InvalidTxnStateException || t instanceof TransactionAbortedException
                    || t instanceof RetriableException) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
