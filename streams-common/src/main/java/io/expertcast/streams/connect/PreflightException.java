package io.expertcast.streams.connect;

/** The broker is not there, refuses the client, or lacks the pipeline's topics; the message says the fix. */
public final class PreflightException extends RuntimeException {
    public PreflightException(String message) {
        super(message);
    }

    public PreflightException(String message, Throwable cause) {
        super(message, cause);
    }
}
