package dev.ferry.dns;

import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * How the DNS responder is set up. Immutable; validated on construction with messages that name
 * the option at fault.
 *
 * @param bind               where to listen, UDP and TCP (port 0 picks a free port, the same for both)
 * @param clusterDomain      the zone answered from the table ("cluster.local")
 * @param ttlSeconds         TTL of every answer from the table and of the SOA minimum (default 5)
 * @param upstreams          where names outside the zone go; empty means they are REFUSED
 * @param cacheEntries       bound on cached upstream answers (0 disables the cache)
 * @param maxCacheTtlSeconds cap on how long an upstream answer is cached
 * @param upstreamTimeoutMillis how long to wait for one upstream before the next (then SERVFAIL)
 * @param maxPendingForwards bound on questions in flight to upstreams, one socket each (beyond: SERVFAIL)
 * @param threads            event loop threads (UDP sockets with SO_REUSEPORT where epoll is available)
 * @param maxTcpConnections  bound on open TCP connections (beyond: closed at once)
 * @param allowedClients     who may query: a UDP query from elsewhere gets a bare REFUSED, a TCP
 *                           connection is closed
 * @param clientQueriesPerSecond UDP queries answered per second per client source (IPv4 address or
 *                           IPv6 /64), with a burst of one second's worth; beyond, dropped unanswered;
 *                           loopback is not limited; 0 means no limit
 */
public record DnsOptions(InetSocketAddress bind, String clusterDomain, int ttlSeconds,
                         List<InetSocketAddress> upstreams, int cacheEntries, int maxCacheTtlSeconds,
                         long upstreamTimeoutMillis, int maxPendingForwards, int threads, int maxTcpConnections,
                         List<Cidr> allowedClients, int clientQueriesPerSecond) {

    public static final String DEFAULT_CLUSTER_DOMAIN = "cluster.local";
    public static final int DEFAULT_TTL_SECONDS = 5;
    public static final int DEFAULT_CLIENT_QUERIES_PER_SECOND = 2_000;
    /** The default clients; never rate-limited, as the kernel drops loopback sources arriving from outside. */
    public static final List<Cidr> LOOPBACK = List.of(Cidr.parse("127.0.0.0/8"), Cidr.parse("::1/128"));
    private static final Pattern DOMAIN =
            Pattern.compile("([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*");

    public DnsOptions {
        if (bind == null) {
            throw new IllegalArgumentException("dns bind address: required");
        }
        clusterDomain = clusterDomain == null ? DEFAULT_CLUSTER_DOMAIN : clusterDomain.toLowerCase(Locale.ROOT);
        if (clusterDomain.endsWith(".")) {
            clusterDomain = clusterDomain.substring(0, clusterDomain.length() - 1);
        }
        if (clusterDomain.length() > 200 || !DOMAIN.matcher(clusterDomain).matches()) {
            throw new IllegalArgumentException("cluster domain: '" + clusterDomain
                    + "' is not a DNS name of lower-case labels (e.g. cluster.local)");
        }
        if (ttlSeconds < 0) {
            throw new IllegalArgumentException("dns ttl: must be >= 0 seconds, got " + ttlSeconds);
        }
        upstreams = List.copyOf(upstreams == null ? List.of() : upstreams);
        for (InetSocketAddress u : upstreams) {
            if (u.isUnresolved() || u.getPort() == 0) {
                throw new IllegalArgumentException("dns upstream: '" + u + "' needs an IP address and a port");
            }
            if (u.equals(bind)) {
                throw new IllegalArgumentException("dns upstream: " + u + " is the bind address itself (a loop)");
            }
        }
        if (cacheEntries < 0 || maxCacheTtlSeconds < 0) {
            throw new IllegalArgumentException("dns cache: entries and max TTL must be >= 0");
        }
        if (upstreamTimeoutMillis <= 0 || maxPendingForwards <= 0) {
            throw new IllegalArgumentException("dns upstream: timeout and pending bound must be > 0");
        }
        if (threads <= 0 || maxTcpConnections <= 0) {
            throw new IllegalArgumentException("dns: threads and TCP connection bound must be > 0");
        }
        allowedClients = List.copyOf(allowedClients == null ? List.of() : allowedClients);
        if (clientQueriesPerSecond < 0) {
            throw new IllegalArgumentException("dns client rate: must be >= 0 queries/s (0: no limit), got "
                    + clientQueriesPerSecond);
        }
    }

    /**
     * The defaults: cluster.local, TTL 5 s, no upstreams (REFUSED), 10 000 cached answers for at most
     * 300 s, 512 forwarded questions in flight, clients on loopback only, 2 000 UDP queries/s per client.
     */
    public static DnsOptions of(InetSocketAddress bind) {
        return new DnsOptions(bind, DEFAULT_CLUSTER_DOMAIN, DEFAULT_TTL_SECONDS, List.of(), 10_000, 300, 2_000, 512,
                Math.min(2, Runtime.getRuntime().availableProcessors()), 1_024, LOOPBACK,
                DEFAULT_CLIENT_QUERIES_PER_SECOND);
    }

    public DnsOptions withClusterDomain(String domain) {
        return new DnsOptions(bind, domain, ttlSeconds, upstreams, cacheEntries, maxCacheTtlSeconds,
                upstreamTimeoutMillis, maxPendingForwards, threads, maxTcpConnections,
                allowedClients, clientQueriesPerSecond);
    }

    public DnsOptions withTtlSeconds(int ttl) {
        return new DnsOptions(bind, clusterDomain, ttl, upstreams, cacheEntries, maxCacheTtlSeconds,
                upstreamTimeoutMillis, maxPendingForwards, threads, maxTcpConnections,
                allowedClients, clientQueriesPerSecond);
    }

    public DnsOptions withUpstreams(List<InetSocketAddress> list) {
        return new DnsOptions(bind, clusterDomain, ttlSeconds, list, cacheEntries, maxCacheTtlSeconds,
                upstreamTimeoutMillis, maxPendingForwards, threads, maxTcpConnections,
                allowedClients, clientQueriesPerSecond);
    }

    public DnsOptions withCache(int entries, int maxTtlSeconds) {
        return new DnsOptions(bind, clusterDomain, ttlSeconds, upstreams, entries, maxTtlSeconds,
                upstreamTimeoutMillis, maxPendingForwards, threads, maxTcpConnections,
                allowedClients, clientQueriesPerSecond);
    }

    public DnsOptions withUpstreamTimeoutMillis(long millis) {
        return new DnsOptions(bind, clusterDomain, ttlSeconds, upstreams, cacheEntries, maxCacheTtlSeconds, millis,
                maxPendingForwards, threads, maxTcpConnections,
                allowedClients, clientQueriesPerSecond);
    }

    /** Who may query: exactly these prefixes (add {@link #LOOPBACK} to keep the node's own tools answered). */
    public DnsOptions withAllowedClients(List<Cidr> cidrs) {
        return new DnsOptions(bind, clusterDomain, ttlSeconds, upstreams, cacheEntries, maxCacheTtlSeconds,
                upstreamTimeoutMillis, maxPendingForwards, threads, maxTcpConnections, cidrs, clientQueriesPerSecond);
    }

    public DnsOptions withClientQueriesPerSecond(int perSecond) {
        return new DnsOptions(bind, clusterDomain, ttlSeconds, upstreams, cacheEntries, maxCacheTtlSeconds,
                upstreamTimeoutMillis, maxPendingForwards, threads, maxTcpConnections, allowedClients, perSecond);
    }

    public DnsOptions withThreads(int n) {
        return new DnsOptions(bind, clusterDomain, ttlSeconds, upstreams, cacheEntries, maxCacheTtlSeconds,
                upstreamTimeoutMillis, maxPendingForwards, n, maxTcpConnections,
                allowedClients, clientQueriesPerSecond);
    }

    /**
     * Parses a command-line address "IP:PORT" or "[IPv6]:PORT" (a port alone is not accepted: the
     * operator must choose the address). Numeric addresses only, no name lookups.
     *
     * @param option the flag name for the error message, e.g. "--dns-bind"
     */
    public static InetSocketAddress parseAddress(String option, String value) {
        String v = value == null ? "" : value.trim();
        int colon = v.lastIndexOf(':');
        if (colon <= 0 || colon == v.length() - 1) {
            throw new IllegalArgumentException(option + ": '" + v + "' is not IP:PORT (e.g. 169.254.20.10:53 or [::1]:53)");
        }
        String host = v.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            throw new IllegalArgumentException(option + ": '" + v + "': write an IPv6 address in brackets, [addr]:port");
        }
        int port;
        try {
            port = Integer.parseInt(v.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": '" + v + "': port is not a number");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(option + ": '" + v + "': port must be 0..65535");
        }
        InetAddress address = IpAddresses.parse(host);
        if (address == null) {
            throw new IllegalArgumentException(option + ": '" + v + "': '" + host + "' is not a numeric IP address");
        }
        return new InetSocketAddress(address, port);
    }
}
