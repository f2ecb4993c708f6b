package io.expertcast.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** A transaction the cluster took away replaces the thread; a bug still shuts the client down. */
class StreamThreadFailuresTest {
    private final StreamsUncaughtExceptionHandler handler =
            StreamThreadFailures.handler("test", LoggerFactory.getLogger(StreamThreadFailuresTest.class));

    @Test
    void aTransactionLostToTheClusterReplacesTheThread() {
        // What the survivor's emulator died of in the chaos suite's crash scenario.
        assertEquals(StreamThreadExceptionResponse.REPLACE_THREAD, handler.handle(new StreamsException(
                "Error encountered trying to commit a transaction", new InvalidTxnStateException("invalid state"))));
        assertEquals(StreamThreadExceptionResponse.REPLACE_THREAD,
                handler.handle(new StreamsException(new ProducerFencedException("fenced"))));
    }

    @Test
    void aBugShutsTheClientDown() {
        assertEquals(StreamThreadExceptionResponse.SHUTDOWN_CLIENT,
                handler.handle(new StreamsException(new IllegalStateException("a bug"))));
        assertEquals(StreamThreadExceptionResponse.SHUTDOWN_CLIENT, handler.handle(new NullPointerException()));
    }
}
