package io.expertcast.streams.connect;

import io.expertcast.schemas.Topic;
import io.expertcast.schemas.Topics;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.SslAuthenticationException;

/**
 * Checks, before a command starts its Kafka clients, that a broker answers at the bootstrap address
 * with the command's client properties and that the pipeline's topics exist. A Kafka client pointed at
 * nothing retries for a minute or more and then fails with a message that names neither the address
 * nor the fix ("Topic moe.selections not present in metadata after 30000 ms"); this says within a few
 * seconds what is wrong and which command fixes it.
 */
public final class BrokerPreflight {
    /** The command that creates every pipeline topic. */
    public static final String CREATE_TOPICS = "bin/expertcast topics create";

    private BrokerPreflight() {
    }

    /**
     * Checks that the broker answers and every topic of {@link Topics#ALL} exists (one missing means
     * {@code topics create} was not run on this cluster, which creates them all).
     *
     * @throws PreflightException naming the address, what is wrong and the command that fixes it
     */
    public static void requirePipelineTopics(KafkaConnection connection) {
        require(connection, Topics.ALL);
    }

    /** As above, for the given topics only. */
    public static void require(KafkaConnection connection, Collection<? extends Topic<?, ?>> topics) {
        String bootstrap = connection.bootstrap();
        Duration wait = connection.brokerWait();
        if (!awaitReachable(bootstrap, wait)) {
            throw new PreflightException("no broker at " + bootstrap + " (" + connection.bootstrapOrigin()
                    + "): nothing accepted a connection within " + wait.toSeconds() + " s; start one with "
                    + "`bin/expertcast broker start` or give --bootstrap HOST:PORT");
        }
        Set<String> existing = topicNames(connection, bootstrap, wait);
        List<String> missing = new ArrayList<>();
        for (Topic<?, ?> t : topics) {
            if (!existing.contains(t.name())) {
                missing.add(t.name());
            }
        }
        if (!missing.isEmpty()) {
            throw new PreflightException("the broker at " + bootstrap + " lacks " + missing.size() + " of the pipeline's "
                    + "topics (" + String.join(", ", missing.subList(0, Math.min(3, missing.size())))
                    + (missing.size() > 3 ? ", ..." : "") + "); create them with `" + CREATE_TOPICS
                    + connection.flagsForMessage() + "`");
        }
    }

    /** The cluster's topic names, asked with the command's client properties (TLS, SASL). */
    private static Set<String> topicNames(KafkaConnection connection, String bootstrap, Duration wait) {
        // Something accepts TCP there: a broker answers a metadata request in milliseconds when idle, but a
        // loaded machine (services starting together beside a fresh broker) can take seconds more.
        int millis = (int) Math.max(20_000, wait.toMillis());
        Map<String, Object> config = new HashMap<>(connection.clientPropertiesWithBootstrap());
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, millis);
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, millis);
        config.putIfAbsent(AdminClientConfig.CLIENT_ID_CONFIG, "expertcast-preflight");
        try (Admin admin = Admin.create(config)) {
            return admin.listTopics(new ListTopicsOptions().listInternal(false)).names()
                    .get(millis + 1000L, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof SslAuthenticationException) {
                throw new PreflightException("the broker at " + bootstrap + " refused the TLS handshake: "
                        + cause.getMessage() + " (check ssl.* in --config/--property)", cause);
            }
            if (cause instanceof AuthenticationException) {
                throw new PreflightException("the broker at " + bootstrap + " refused the credentials: "
                        + cause.getMessage() + " (check sasl.* in --config/--property)", cause);
            }
            if (cause instanceof AuthorizationException) {
                throw new PreflightException("the broker at " + bootstrap + " does not allow listing topics: "
                        + cause.getMessage(), cause);
            }
            throw new PreflightException("the broker at " + bootstrap + " did not answer a metadata request within "
                    + millis / 1000 + " s: " + cause.getMessage() + " (it may be starting or overloaded"
                    + securityHint(connection) + ")", cause);
        } catch (TimeoutException e) {
            throw new PreflightException("something accepts connections at " + bootstrap + " but no Kafka answer came "
                    + "within " + millis / 1000 + " s (it may be starting or overloaded" + securityHint(connection) + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PreflightException("interrupted while asking " + bootstrap + " for its topics", e);
        } catch (org.apache.kafka.common.KafkaException e) {
            throw new PreflightException("cannot create a Kafka client for " + bootstrap + ": " + e.getMessage()
                    + (e.getCause() == null ? "" : " (" + e.getCause().getMessage() + ")"), e);
        }
    }

    private static String securityHint(KafkaConnection connection) {
        return connection.clientProperties().containsKey("security.protocol") ? ""
                : "; a TLS or SASL listener needs security.protocol and its settings in --config or --property";
    }

    /**
     * Waits until some bootstrap server accepts a TCP connection.
     *
     * @param bootstrap comma-separated host:port list
     * @return true as soon as one address accepts; false if none did within {@code timeout}
     * @throws PreflightException if an entry is not host:port
     */
    public static boolean awaitReachable(String bootstrap, Duration timeout) {
        InetSocketAddress[] addresses = parse(bootstrap);
        long deadline = System.nanoTime() + timeout.toNanos();
        do {
            for (InetSocketAddress address : addresses) {
                if (accepts(address)) {
                    return true;
                }
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        } while (System.nanoTime() < deadline);
        return false;
    }

    static InetSocketAddress[] parse(String bootstrap) {
        String[] entries = bootstrap.split(",");
        InetSocketAddress[] addresses = new InetSocketAddress[entries.length];
        for (int i = 0; i < entries.length; i++) {
            String entry = entries[i].trim();
            int scheme = entry.indexOf("://");
            if (scheme >= 0) {
                entry = entry.substring(scheme + 3); // SASL_SSL://host:port, as some configs write it
            }
            int colon = entry.lastIndexOf(':');
            if (colon <= 0 || colon == entry.length() - 1) {
                throw new PreflightException("bootstrap server '" + entry + "' is not host:port");
            }
            String host = entry.substring(0, colon).replace("[", "").replace("]", "");
            int port;
            try {
                port = Integer.parseInt(entry.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new PreflightException("bootstrap server '" + entry + "' has no numeric port");
            }
            if (port < 1 || port > 65535) {
                throw new PreflightException("bootstrap server '" + entry + "' has port out of range");
            }
            // Unresolved: resolution is retried on every attempt (a Compose service name appears late).
            addresses[i] = InetSocketAddress.createUnresolved(host, port);
        }
        return addresses;
    }

    private static boolean accepts(InetSocketAddress unresolved) {
        InetSocketAddress address = new InetSocketAddress(unresolved.getHostString(), unresolved.getPort());
        if (address.isUnresolved()) {
            return false;
        }
        try (Socket socket = new Socket()) {
            socket.connect(address, 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
