package io.expertcast.local;

/** The local broker could not be started or prepared; the message says why and carries the log's tail. */
public final class LocalBrokerException extends RuntimeException {

    public LocalBrokerException(String message) {
        super(message);
    }

    public LocalBrokerException(String message, Throwable cause) {
        super(message, cause);
    }
}
