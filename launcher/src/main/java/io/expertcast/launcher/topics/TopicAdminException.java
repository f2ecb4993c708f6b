package io.expertcast.launcher.topics;

/** The cluster did not answer or refused a topic operation; the message names the operation. */
public final class TopicAdminException extends RuntimeException {

    public TopicAdminException(String message, Throwable cause) {
        super(message, cause);
    }
}
