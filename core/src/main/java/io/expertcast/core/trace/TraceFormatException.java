package io.expertcast.core.trace;

/** A trace file that does not follow the dataset's format; the message names the file and position. */
public class TraceFormatException extends RuntimeException {
    public TraceFormatException(String message) {
        super(message);
    }

    public TraceFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
