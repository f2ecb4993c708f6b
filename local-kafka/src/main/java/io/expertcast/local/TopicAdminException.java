package io.expertcast.local;

/** The cluster did not answer or refused a topic operation; the message names the operation. */
public final class TopicAdminException extends RuntimeException {

    public TopicAdminException(String message, Throwable cause) {
        super(message, cause);
    }
}
