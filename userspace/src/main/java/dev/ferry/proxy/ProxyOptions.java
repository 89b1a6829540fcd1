package dev.ferry.proxy;

import dev.ferry.conntrack.ConntrackState;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How the userspace proxy runs. Immutable.
 *
 * @param nodePortAddresses the node addresses NodePorts listen on, already filtered by
 *     nodePortAddresses (loopback may be among them); empty serves no NodePort
 * @param defaultAlgorithm the lb-algorithms scheduler name for services without the annotation
 * @param connectTimeout per backend attempt
 * @param idleTimeout a TCP connection with no traffic either way for this long is closed
 * @param maxConnectAttempts backends tried per client connection (at most the number of usable ones)
 * @param conntrack flow and ClientIP affinity tables; null keeps UDP flows only in memory and
 *     falls back to a client-address hash for ClientIP affinity
 * @param udpIdleTimeout a UDP flow with no datagram either way for this long is closed
 * @param serviceInterface the interface that holds service addresses (e.g. {@code ferry0}); null
 *     holds none (then only addresses already local, such as 127.0.0.0/8, can be served)
 * @param transport "auto" (the best native transport on Linux, else NIO), "io_uring", "epoll" or
 *     "nio"; a native transport the kernel or platform does not offer falls back (see {@link Transport#pick(String)})
 * @param ioThreads event loop threads (0: one per core)
 * @param limits how many UDP flows, TCP connections and listening sockets the proxy may hold
 */
public record ProxyOptions(List<InetAddress> nodePortAddresses, String defaultAlgorithm, Duration connectTimeout,
                           Duration idleTimeout, int maxConnectAttempts, ConntrackState conntrack,
                           Duration udpIdleTimeout, String serviceInterface, String transport, int ioThreads,
                           ProxyLimits limits) {

    public ProxyOptions {
        nodePortAddresses = List.copyOf(nodePortAddresses == null ? List.of() : nodePortAddresses);
        Objects.requireNonNull(defaultAlgorithm, "defaultAlgorithm");
        dev.ferry.lb.Algorithm.named(defaultAlgorithm); // fails early, naming the bad value
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("connectTimeout must be positive, got " + connectTimeout);
        }
        if (idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("idleTimeout must be positive, got " + idleTimeout);
        }
        if (udpIdleTimeout.isNegative() || udpIdleTimeout.isZero()) {
            throw new IllegalArgumentException("udpIdleTimeout must be positive, got " + udpIdleTimeout);
        }
        if (maxConnectAttempts < 1) {
            throw new IllegalArgumentException("maxConnectAttempts must be at least 1, got " + maxConnectAttempts);
        }
        if (!Transport.CHOICES.contains(transport)) {
            throw new IllegalArgumentException("transport must be one of " + Transport.CHOICES + ", got " + transport);
        }
        if (ioThreads < 0) {
            throw new IllegalArgumentException("ioThreads must be 0 (default) or more, got " + ioThreads);
        }
        Objects.requireNonNull(limits, "limits");
    }

    /**
     * Defaults: NodePort on loopback only, rr, 1 s connect, 1 h idle, 3 attempts, no conntrack, UDP 30 s,
     * no interface, limits from this process's descriptor limit ({@link ProxyLimits#defaults()}).
     */
    public static ProxyOptions defaults() {
        return new ProxyOptions(List.of(InetAddress.getLoopbackAddress()), "rr", Duration.ofSeconds(1),
                Duration.ofHours(1), 3, null, Duration.ofSeconds(30), null, "auto", 0, ProxyLimits.defaults());
    }

    public ProxyOptions withNodePortAddresses(List<InetAddress> a) {
        return new ProxyOptions(a, defaultAlgorithm, connectTimeout, idleTimeout, maxConnectAttempts, conntrack,
                udpIdleTimeout, serviceInterface, transport, ioThreads, limits);
    }

    public ProxyOptions withDefaultAlgorithm(String a) {
        return new ProxyOptions(nodePortAddresses, a, connectTimeout, idleTimeout, maxConnectAttempts, conntrack,
                udpIdleTimeout, serviceInterface, transport, ioThreads, limits);
    }

    public ProxyOptions withConnectTimeout(Duration d) {
        return new ProxyOptions(nodePortAddresses, defaultAlgorithm, d, idleTimeout, maxConnectAttempts, conntrack,
                udpIdleTimeout, serviceInterface, transport, ioThreads, limits);
    }

    public ProxyOptions withIdleTimeout(Duration d) {
        return new ProxyOptions(nodePortAddresses, defaultAlgorithm, connectTimeout, d, maxConnectAttempts, conntrack,
                udpIdleTimeout, serviceInterface, transport, ioThreads, limits);
    }

    public ProxyOptions withMaxConnectAttempts(int n) {
        return new ProxyOptions(nodePortAddresses, defaultAlgorithm, connectTimeout, idleTimeout, n, conntrack,
                udpIdleTimeout, serviceInterface, transport, ioThreads, limits);
    }

    public ProxyOptions withConntrack(ConntrackState c) {
        return new ProxyOptions(nodePortAddresses, defaultAlgorithm, connectTimeout, idleTimeout, maxConnectAttempts, c,
                udpIdleTimeout, serviceInterface, transport, ioThreads, limits);
    }

    public ProxyOptions withUdpIdleTimeout(Duration d) {
        return new ProxyOptions(nodePortAddresses, defaultAlgorithm, connectTimeout, idleTimeout, maxConnectAttempts,
                conntrack, d, serviceInterface, transport, ioThreads, limits);
    }

    public ProxyOptions withServiceInterface(String name) {
        return new ProxyOptions(nodePortAddresses, defaultAlgorithm, connectTimeout, idleTimeout, maxConnectAttempts,
                conntrack, udpIdleTimeout, name, transport, ioThreads, limits);
    }

    /** False: NIO; true: "auto". */
    public ProxyOptions withPreferNative(boolean b) {
        return withTransport(b ? "auto" : "nio");
    }

    /** One of {@link Transport#CHOICES}. */
    public ProxyOptions withTransport(String t) {
        return new ProxyOptions(nodePortAddresses, defaultAlgorithm, connectTimeout, idleTimeout, maxConnectAttempts,
                conntrack, udpIdleTimeout, serviceInterface, t, ioThreads, limits);
    }

    public ProxyOptions withIoThreads(int n) {
        return new ProxyOptions(nodePortAddresses, defaultAlgorithm, connectTimeout, idleTimeout, maxConnectAttempts,
                conntrack, udpIdleTimeout, serviceInterface, transport, n, limits);
    }

    public ProxyOptions withLimits(ProxyLimits l) {
        return new ProxyOptions(nodePortAddresses, defaultAlgorithm, connectTimeout, idleTimeout, maxConnectAttempts,
                conntrack, udpIdleTimeout, serviceInterface, transport, ioThreads, l);
    }
}
