package io.expertcast.launcher;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.time.Instant;

/**
 * Waits until some bootstrap server accepts a TCP connection. A Kafka client pointed at a closed port
 * logs a reconnect warning per attempt and fails late with "Timed out waiting for a node
 * assignment"; probing first gives one clear error and lets a job started beside its broker (Docker
 * Compose) wait for it.
 */
public final class BootstrapProbe {

    private BootstrapProbe() {
    }

    /**
     * @param bootstrap comma-separated host:port list
     * @return true as soon as one address accepts; false if none did within {@code timeout}
     * @throws IllegalArgumentException if an entry is not host:port
     */
    public static boolean awaitReachable(String bootstrap, Duration timeout) {
        InetSocketAddress[] addresses = parse(bootstrap);
        Instant deadline = Instant.now().plus(timeout);
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
        } while (Instant.now().isBefore(deadline));
        return false;
    }

    static InetSocketAddress[] parse(String bootstrap) {
        String[] entries = bootstrap.split(",");
        InetSocketAddress[] addresses = new InetSocketAddress[entries.length];
        for (int i = 0; i < entries.length; i++) {
            String entry = entries[i].trim();
            int colon = entry.lastIndexOf(':');
            if (colon <= 0 || colon == entry.length() - 1) {
                throw new IllegalArgumentException("bootstrap server '" + entry + "' is not host:port");
            }
            String host = entry.substring(0, colon).replace("[", "").replace("]", "");
            int port;
            try {
                port = Integer.parseInt(entry.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bootstrap server '" + entry + "' has no numeric port");
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("bootstrap server '" + entry + "' has port out of range");
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
