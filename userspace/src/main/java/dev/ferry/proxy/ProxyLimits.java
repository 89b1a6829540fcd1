package dev.ferry.proxy;

import java.lang.management.ManagementFactory;

/**
 * How much of the node a client (or a Service) can make the userspace proxy spend. Every socket
 * the proxy opens counts against the process's file descriptor limit (RLIMIT_NOFILE), so the
 * defaults are shares of that limit: listening sockets {@value #LISTENER_SHARE_PERCENT}%, UDP
 * flows (one backend socket each) {@value #FLOW_SHARE_PERCENT}%, TCP connections (a client and a
 * backend socket each) {@value #CONNECTION_SHARE_PERCENT}%. Half of the limit thus stays free for
 * the JVM, the health and metrics servers, DNS and the transient socket of an accept that is then
 * refused, so a flood never makes the daemon unable to answer. Immutable.
 *
 * @param udpFlows UDP flows (each one connected backend socket) across all frontends
 * @param udpFlowsPerClient UDP flows of one client address on one frontend; a new flow beyond it
 *     evicts that client's least recently used flow
 * @param connections TCP connections being relayed (or connecting) at once
 * @param listenerSockets listening sockets (a TCP frontend on a native transport takes one per
 *     event loop); no single Service takes more than half of them
 */
public record ProxyLimits(int udpFlows, int udpFlowsPerClient, int connections, int listenerSockets) {
    static final int LISTENER_SHARE_PERCENT = 25;
    static final int FLOW_SHARE_PERCENT = 12;
    static final int CONNECTION_SHARE_PERCENT = 12;
    /** Per client address and frontend: many DNS queries from fresh source ports stay under it. */
    static final int DEFAULT_FLOWS_PER_CLIENT = 1024;

    public ProxyLimits {
        if (udpFlows < 1 || udpFlowsPerClient < 1 || connections < 1 || listenerSockets < 1) {
            throw new IllegalArgumentException("proxy limits must be positive: udpFlows=" + udpFlows
                    + " udpFlowsPerClient=" + udpFlowsPerClient + " connections=" + connections
                    + " listenerSockets=" + listenerSockets);
        }
    }

    /**
     * The defaults for a process allowed {@code fdLimit} descriptors, with UDP flows also capped at
     * {@code maxFlows} (kube-proxy sizes the kernel's conntrack table as max(conntrack.maxPerCore ×
     * cores, conntrack.min); 0 or less: no cap besides the descriptors).
     */
    public static ProxyLimits forFdLimit(long fdLimit, long maxFlows) {
        long flows = share(fdLimit, FLOW_SHARE_PERCENT);
        if (maxFlows > 0) {
            flows = Math.min(flows, maxFlows);
        }
        int f = (int) Math.max(1, Math.min(Integer.MAX_VALUE, flows));
        return new ProxyLimits(f, Math.min(f, DEFAULT_FLOWS_PER_CLIENT),
                (int) Math.max(1, Math.min(Integer.MAX_VALUE, share(fdLimit, CONNECTION_SHARE_PERCENT) / 2)),
                (int) Math.max(1, Math.min(Integer.MAX_VALUE, share(fdLimit, LISTENER_SHARE_PERCENT))));
    }

    /** The defaults for this process's descriptor limit and kube-proxy's default conntrack sizing. */
    public static ProxyLimits defaults() {
        return forFdLimit(fdLimit(), conntrackMax(32 * 1024, 128 * 1024));
    }

    /** kube-proxy's conntrack table size: max(maxPerCore × cores, min); 0 when maxPerCore is 0 (no cap). */
    public static long conntrackMax(int maxPerCore, int min) {
        if (maxPerCore <= 0) {
            return 0;
        }
        return Math.max((long) maxPerCore * Runtime.getRuntime().availableProcessors(), min);
    }

    /**
     * The process's RLIMIT_NOFILE (the JVM raises the soft limit to the hard one at start), or 1024
     * where the platform does not say.
     */
    public static long fdLimit() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean u) {
            long max = u.getMaxFileDescriptorCount();
            if (max > 0) {
                return max;
            }
        }
        return 1024;
    }

    private static long share(long fdLimit, int percent) {
        return fdLimit / 100 * percent + fdLimit % 100 * percent / 100;
    }

    public ProxyLimits withUdpFlows(int n) {
        return new ProxyLimits(n, Math.min(udpFlowsPerClient, n), connections, listenerSockets);
    }

    public ProxyLimits withUdpFlowsPerClient(int n) {
        return new ProxyLimits(udpFlows, n, connections, listenerSockets);
    }

    public ProxyLimits withConnections(int n) {
        return new ProxyLimits(udpFlows, udpFlowsPerClient, n, listenerSockets);
    }

    public ProxyLimits withListenerSockets(int n) {
        return new ProxyLimits(udpFlows, udpFlowsPerClient, connections, n);
    }
}
